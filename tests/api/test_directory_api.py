"""The directory: users, me, groups and their members and owners; who sees whom; creating a
group and then offering it in a catalog."""

from django.db import connection
from django.test.utils import CaptureQueriesContext

from governance.choices import GlobalRole, GroupMembershipRole
from governance.models import ApiClient, AuditEvent, Group, GroupMembership, Resource
from tests.api.conftest import EM, assert_graph_error, person_client
from tests.factories import GroupFactory, UserFactory

USERS, GROUPS, ME = "/v1.0/users", "/v1.0/groups", "/v1.0/me"


def _emails(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [item["mail"] for item in response.json()["value"]]


def test_users_in_graph_json_without_service_principals(world, callers):
    body = callers.reader.get(USERS, {"$count": "true"}).json()
    assert body["@odata.context"].endswith("/v1.0/$metadata#users")
    emails = [item["mail"] for item in body["value"]]
    assert "member@access.example" in emails and "requester@contoso.example" in emails
    principals = list(ApiClient.objects.values_list("principal__email", flat=True))
    assert principals and not set(principals) & set(emails)
    assert body["@odata.count"] == len(emails)
    [owner] = [item for item in body["value"] if item["mail"] == "owner@access.example"]
    assert owner == {"id": str(world.owner.pk), "displayName": "Owner",
                     "mail": "owner@access.example",
                     "userPrincipalName": "owner@access.example", "userType": "Member",
                     "accountEnabled": True, "preferredLanguage": None,
                     "createdDateTime": owner["createdDateTime"], "department": None,
                     "jobTitle": None, "employeeId": None, "employeeType": None,
                     "companyName": None, "officeLocation": None,
                     "employeeOrgData": {"division": None, "costCenter": None}}
    principal = ApiClient.objects.first().principal_id
    assert_graph_error(callers.reader.get(f"{USERS}/{principal}"), 404)


def test_user_filters(world, callers):
    get = lambda expression: _emails(callers.owner.get(USERS, {"$filter": expression}))  # noqa
    assert get("mail eq 'MEMBER@access.example'") == ["member@access.example"]
    assert get("userPrincipalName eq 'owner@access.example'") == ["owner@access.example"]
    assert get("startswith(displayName,'second')") == ["second.approver@access.example"]
    assert get("userType eq 'Guest'") == ["outsider@fabrikam.example",
                                          "requester@contoso.example"]
    assert get("userType eq 'Guest' and not startswith(mail,'out')") == [
        "requester@contoso.example"]
    assert_graph_error(callers.owner.get(USERS, {"$filter": "userType eq 'guest'"}), 400,
                       "Member", "Guest")
    assert_graph_error(callers.owner.get(USERS, {"$filter": "manager eq 'x'"}), 400, "manager")


def test_people_without_a_role_see_only_themselves(world, callers):
    assert _emails(callers.member.get(USERS)) == ["member@access.example"]
    assert callers.member.get(f"{USERS}/{world.member.pk}").json()["mail"] == (
        "member@access.example")
    assert_graph_error(callers.member.get(f"{USERS}/{world.owner.pk}"), 404)
    # Anyone with a catalog role (the stranger owns another catalog) or a global role sees all.
    assert len(_emails(callers.stranger.get(USERS))) > 5
    creator = UserFactory(email="creator@access.example")
    creator.global_roles.create(role=GlobalRole.CATALOG_CREATOR)
    assert "member@access.example" in _emails(person_client(creator).get(USERS))


def test_me(world, callers):
    body = callers.member.get(ME).json()
    assert body["id"] == str(world.member.pk) and body["mail"] == "member@access.example"
    assert body["@odata.context"].endswith("$metadata#users/$entity")
    assert_graph_error(callers.reader.get(ME), 400, "delegated")
    assert_graph_error(callers.anonymous.get(ME), 401)


def test_groups_and_who_sees_them(world, callers):
    GroupMembership.objects.create(group=world.group, user=world.member)
    body = callers.reader.get(GROUPS).json()
    assert body["@odata.context"].endswith("/v1.0/$metadata#groups")
    assert [item["displayName"] for item in body["value"]] == ["Falcon Reports",
                                                              "Project Falcon"]
    falcon = body["value"][1]
    assert falcon == {"id": str(world.group.pk), "displayName": "Project Falcon",
                      "description": "", "createdDateTime": falcon["createdDateTime"],
                      "mailEnabled": False, "mailNickname": None, "securityEnabled": True,
                      "groupTypes": []}
    assert [g["id"] for g in callers.member.get(GROUPS).json()["value"]] == [falcon["id"]]
    assert_graph_error(callers.member.get(f"{GROUPS}/{world.other_group.pk}"), 404)
    assert callers.member.get(f"{GROUPS}/{world.group.pk}").json()["id"] == falcon["id"]
    found = callers.owner.get(GROUPS, {"$filter": "startswith(displayName,'project')"})
    assert [item["id"] for item in found.json()["value"]] == [falcon["id"]]
    assert_graph_error(callers.owner.get(f"{GROUPS}/x"), 404)


def test_members_and_owners_are_directory_objects(world, callers):
    GroupMembership.objects.create(group=world.group, user=world.member)
    GroupMembership.objects.create(group=world.group, user=world.approver)
    GroupMembership.objects.create(group=world.group, user=world.owner,
                                   role=GroupMembershipRole.OWNER)
    members = callers.reader.get(f"{GROUPS}/{world.group.pk}/members").json()
    assert members["@odata.context"].endswith("$metadata#directoryObjects")
    assert [item["mail"] for item in members["value"]] == ["approver@access.example",
                                                           "member@access.example"]
    assert members["value"][0]["@odata.type"] == "#microsoft.graph.user"
    owners = callers.reader.get(f"{GROUPS}/{world.group.pk}/owners",
                                {"$select": "displayName"}).json()["value"]
    assert owners == [{"@odata.type": "#microsoft.graph.user", "id": str(world.owner.pk),
                       "displayName": "Owner"}]
    # A member without a role sees only themselves among the people of their group.
    assert _emails(callers.member.get(f"{GROUPS}/{world.group.pk}/members")) == [
        "member@access.example"]
    assert_graph_error(callers.member.get(f"{GROUPS}/{world.other_group.pk}/owners"), 404)


def test_a_catalog_owner_creates_a_group_and_offers_it(world, callers):
    response = callers.owner.post(GROUPS, {
        "displayName": "Falcon editors", "description": "Who edits", "mailEnabled": False,
        "mailNickname": "falcon-editors", "securityEnabled": True, "groupTypes": []},
        format="json")
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["@odata.context"].endswith("$metadata#groups/$entity")
    assert (created["displayName"], created["description"]) == ("Falcon editors", "Who edits")
    group = Group.objects.get(pk=created["id"])
    assert list(group.memberships.values_list("user__email", "role")) == [
        ("owner@access.example", GroupMembershipRole.OWNER)]
    owners = callers.owner.get(f"{GROUPS}/{group.pk}/owners").json()["value"]
    assert [item["mail"] for item in owners] == ["owner@access.example"]
    offered = callers.owner.post(f"{EM}/resourceRequests", {
        "requestType": "adminAdd", "catalog": {"id": str(world.catalog.pk)},
        "resource": {"originId": str(group.pk), "originSystem": "AadGroup"}}, format="json")
    assert offered.status_code == 201, offered.content
    assert Resource.objects.filter(catalog=world.catalog, origin_id=str(group.pk)).exists()


def test_api_clients_create_groups(world, callers):
    response = callers.writer.post(GROUPS, {"displayName": "Robots"}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["displayName"] == "Robots"


def test_bad_group_bodies_are_400s_and_create_nothing(world, callers):
    before = (Group.objects.count(), AuditEvent.objects.count())
    for body, words in (({}, ("displayName",)),
                        ({"displayName": "  "}, ("displayName",)),
                        ({"displayName": "x" * 201}, ("displayName", "200")),
                        ({"displayName": 5}, ("displayName",)),
                        ({"displayName": "A", "mailEnabled": "no"}, ("mailEnabled",)),
                        ({"displayName": "A", "securityEnabled": None}, ("securityEnabled",)),
                        ({"displayName": "A", "mailNickname": 3}, ("mailNickname",)),
                        ({"displayName": "A", "groupTypes": "Unified"}, ("groupTypes",)),
                        ({"displayName": "A", "groupTypes": [1]}, ("groupTypes",)),
                        ({"displayName": "A", "visibility": "Private"}, ("visibility",))):
        assert_graph_error(callers.writer.post(GROUPS, body, format="json"), 400, *words)
    assert_graph_error(callers.writer.generic("POST", GROUPS, "[1,",
                                              content_type="application/json"), 400, "JSON")
    assert (Group.objects.count(), AuditEvent.objects.count()) == before


def test_permissions(world, callers):
    GroupMembership.objects.create(group=world.group, user=world.member)
    urls = (USERS, f"{USERS}/{world.owner.pk}", ME, GROUPS, f"{GROUPS}/{world.group.pk}",
            f"{GROUPS}/{world.group.pk}/members", f"{GROUPS}/{world.group.pk}/owners")
    for url in urls:
        assert_graph_error(callers.anonymous.get(url), 401)
    for url in urls[:2] + urls[3:]:
        assert callers.reader.get(url).status_code == 200, url
        assert callers.stranger.get(url).status_code == 200, url
    assert_graph_error(callers.member.get(urls[1]), 404)
    for url in urls[3:]:
        assert callers.member.get(url).status_code == 200, url
    before = Group.objects.count()
    assert_graph_error(callers.anonymous.post(GROUPS, {"displayName": "A"}, format="json"), 401)
    assert_graph_error(callers.reader.post(GROUPS, {"displayName": "A"}, format="json"), 403,
                       "EntitlementManagement.ReadWrite.All")
    assert_graph_error(callers.member.post(GROUPS, {"displayName": "A"}, format="json"), 403,
                       "catalog owners")
    assert Group.objects.count() == before
    assert callers.stranger.post(GROUPS, {"displayName": "A"}, format="json").status_code == 201
    for path in (ME, f"{GROUPS}/{world.group.pk}"):
        response = callers.writer.patch(path, {"displayName": "x"}, format="json")
        assert response.status_code == 405, path
    # People are changed with User.ReadWrite.All (tests/api/test_users_api.py).
    assert_graph_error(callers.writer.patch(f"{USERS}/{world.owner.pk}", {"jobTitle": "x"},
                                            format="json"), 403, "User.ReadWrite.All")


def _users_page_queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(USERS, {"$top": "100"})
    assert response.status_code == 200
    return len(queries)


def test_user_and_group_pages_cost_the_same_for_2_and_20_items(world, callers):
    callers.owner.get(USERS)  # the token's first use is recorded once
    small = _users_page_queries(callers.owner)
    with CaptureQueriesContext(connection) as group_queries:
        callers.owner.get(f"{GROUPS}/{world.group.pk}/members")
    for number in range(20):
        user = UserFactory(email=f"extra{number}@access.example")
        GroupMembership.objects.create(group=world.group, user=user)
        GroupFactory(display_name=f"Extra {number}")
    assert _users_page_queries(callers.owner) == small
    with CaptureQueriesContext(connection) as more_group_queries:
        assert len(callers.owner.get(f"{GROUPS}/{world.group.pk}/members")
                   .json()["value"]) == 20
    assert len(more_group_queries) == len(group_queries)
