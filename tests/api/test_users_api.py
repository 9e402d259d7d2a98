"""/v1.0/users: Graph's directory attributes, read, filtered and changed (PATCH), a user's
manager and sponsors by reference, and the refusals: the permission (User.ReadWrite.All),
who may change people, provisioned attributes, cycles and references to nobody."""

import pytest
from django.contrib.auth.hashers import make_password

from governance.choices import ApiPermission, GlobalRole, UserType
from governance.models import AuditEvent, ProvisioningClient, User
from governance.services.api_tokens import api_client_create
from governance.services.people import person_update
from tests.api.conftest import assert_graph_error, graph_client, person_client
from tests.factories import UserFactory, snapshot

USERS = "/v1.0/users"
GRAPH = "https://graph.microsoft.com/v1.0"
# Graph's name → the model's field, and a value to set it to.
PROPERTIES = {
    "department": ("department", "Finance"),
    "jobTitle": ("job_title", "Auditor"),
    "employeeId": ("employee_id", "E-1042"),
    "employeeType": ("employee_type", "Contractor"),
    "companyName": ("company_name", "Contoso"),
    "officeLocation": ("office_location", "Lyon, 3rd floor"),
}


@pytest.fixture
def admin(db):
    return UserFactory(email="api.admin@access.example", is_superuser=True)


def _client(admin, name: str, *granted: ApiPermission):
    _client, token = api_client_create(actor=admin, display_name=name, permissions=list(granted))
    return graph_client(token)


@pytest.fixture
def users_writer(admin):
    """An API client with User.ReadWrite.All."""
    return _client(admin, "People sync", ApiPermission.USER_READ_WRITE_ALL)


@pytest.fixture
def users_reader(admin):
    """An API client with User.Read.All."""
    return _client(admin, "People reader", ApiPermission.USER_READ_ALL)


def _user(client, person) -> dict:
    response = client.get(f"{USERS}/{person.pk}")
    assert response.status_code == 200, response.content
    return response.json()


def _patch(client, person, body):
    return client.patch(f"{USERS}/{person.pk}", body, format="json")


def _ref(person) -> dict:
    return {"@odata.id": f"{GRAPH}/users/{person.pk}"}


def _people_state() -> list:
    return sorted(User.objects.values_list(
        "pk", "is_active", "manager_id", *User.PROFILE_FIELDS))


def _sponsors(person) -> list[int]:
    return sorted(person.sponsors.values_list("pk", flat=True))


def assert_refused(response, status: int, *words: str, before: tuple) -> dict:
    """A Graph error, and nothing changed: the people, their sponsors, the audit log."""
    error = assert_graph_error(response, status, *words)
    assert (_people_state(), snapshot()) == before
    return error


def _before() -> tuple:
    return _people_state(), snapshot()


# Reading


def test_a_user_shows_graphs_directory_attributes_and_null_for_the_unset(world, callers,
                                                                        admin):
    person_update(actor=admin, user_id=world.member.pk,
                  changes={field: value for field, value in PROPERTIES.values()})
    body = callers.reader.get(f"{USERS}/{world.member.pk}").json()
    assert {name: body[name] for name in PROPERTIES} == {
        name: value for name, (_field, value) in PROPERTIES.items()}
    assert body["accountEnabled"] is True
    other = callers.reader.get(f"{USERS}/{world.approver.pk}").json()
    assert {name: other[name] for name in PROPERTIES} == dict.fromkeys(PROPERTIES)


def test_select_and_filter_name_the_new_properties(world, callers, admin, users_reader):
    person_update(actor=admin, user_id=world.member.pk,
                  changes={"department": "Finance", "job_title": "Auditor"})
    person_update(actor=admin, user_id=world.approver.pk, changes={"department": "Sales"})
    selected = callers.reader.get(f"{USERS}/{world.member.pk}",
                                  {"$select": "jobTitle,department"}).json()
    assert selected == {"@odata.context": selected["@odata.context"],
                        "id": str(world.member.pk), "jobTitle": "Auditor",
                        "department": "Finance"}

    def emails(expression, client=callers.reader):
        response = client.get(USERS, {"$filter": expression, "$select": "mail"})
        assert response.status_code == 200, response.content
        return [item["mail"] for item in response.json()["value"]]

    assert emails("department eq 'finance'") == ["member@access.example"]
    assert emails("jobTitle eq 'Auditor' and department eq 'Finance'") == [
        "member@access.example"]
    assert emails("startswith(department,'Sa')") == ["approver@access.example"]
    # User.Read.All reads users as Entitlement management's permissions do.
    assert emails("department eq 'Sales'", users_reader) == ["approver@access.example"]
    listing = callers.reader.get(USERS, {"$select": "displayName,companyName"}).json()
    assert set(listing["value"][0]) == {"id", "displayName", "companyName"}


def test_a_deactivated_person_is_account_enabled_false(world, callers, admin):
    person_update(actor=admin, user_id=world.member.pk, changes={"active": False})
    assert _user(callers.reader, world.member)["accountEnabled"] is False
    response = callers.reader.get(USERS, {"$filter": "accountEnabled eq false",
                                          "$select": "mail"})
    assert [item["mail"] for item in response.json()["value"]] == ["member@access.example"]


# PATCH


@pytest.mark.parametrize("name", sorted(PROPERTIES))
def test_patch_changes_each_property(world, users_writer, name):
    field, value = PROPERTIES[name]
    response = _patch(users_writer, world.member, {name: value})
    assert response.status_code == 204, response.content
    assert not response.content
    world.member.refresh_from_db()
    assert getattr(world.member, field) == value
    event = AuditEvent.objects.filter(action="user.updated").get()
    assert (event.before, event.after) == ({field: ""}, {field: value})
    assert _user(users_writer, world.member)[name] == value


def test_employee_org_data_holds_division_and_cost_center(world, users_writer, callers):
    body = {"employeeOrgData": {"division": "Retail", "costCenter": "CC-7"}}
    assert _patch(users_writer, world.member, body).status_code == 204
    world.member.refresh_from_db()
    assert (world.member.division, world.member.cost_center) == ("Retail", "CC-7")
    assert _user(callers.reader, world.member)["employeeOrgData"] == body["employeeOrgData"]
    found = callers.reader.get(USERS, {"$filter": "employeeOrgData/costCenter eq 'CC-7'",
                                       "$select": "mail,employeeOrgData"}).json()["value"]
    assert found == [{"id": str(world.member.pk), "mail": world.member.email,
                      "employeeOrgData": body["employeeOrgData"]}]
    # Only what it names changes; an unknown part of it is refused.
    assert _patch(users_writer, world.member,
                  {"employeeOrgData": {"division": None}}).status_code == 204
    world.member.refresh_from_db()
    assert (world.member.division, world.member.cost_center) == ("", "CC-7")
    before = _before()
    assert_refused(_patch(users_writer, world.member, {"employeeOrgData": {"team": "x"}}),
                   400, "team", before=before)


def test_patch_null_clears_and_leaves_the_rest(world, users_writer, admin):
    person_update(actor=admin, user_id=world.member.pk,
                  changes={"department": "Finance", "job_title": "Auditor"})
    assert _patch(users_writer, world.member, {"jobTitle": None}).status_code == 204
    world.member.refresh_from_db()
    assert (world.member.job_title, world.member.department) == ("", "Finance")


def test_account_enabled_false_is_the_leaver_and_true_reactivates(world, users_writer):
    assert _patch(users_writer, world.member, {"accountEnabled": False}).status_code == 204
    world.member.refresh_from_db()
    assert not world.member.is_active and world.member.deactivated_at is not None
    assert AuditEvent.objects.filter(action="user.deactivated").exists()

    assert _patch(users_writer, world.member, {"accountEnabled": True}).status_code == 204
    world.member.refresh_from_db()
    assert world.member.is_active and world.member.deactivated_at is None


@pytest.mark.parametrize(("body", "words"), [
    ({"displayName": "Someone else"}, ("displayName", "does not change")),
    ({"mail": "x@access.example"}, ("mail",)),
    ({"favouriteColour": "blue"}, ("favouriteColour",)),
    ({"jobTitle": 7}, ("jobTitle", "string")),
    ({"accountEnabled": "no"}, ("accountEnabled", "true or false")),
    ({"accountEnabled": None}, ("accountEnabled",)),
    ({"jobTitle": "x" * 201}, ("jobTitle:", "200 characters")),
])
def test_patch_refuses_what_it_cannot_set(world, users_writer, body, words):
    before = _before()
    assert_refused(_patch(users_writer, world.member, body), 400, *words, before=before)


# The manager


def test_manager_is_read_set_and_removed_by_reference(world, users_writer, callers):
    url = f"{USERS}/{world.member.pk}/manager"
    error = assert_graph_error(callers.reader.get(url), 404, "'manager' does not exist")
    assert error["code"] == "Request_ResourceNotFound"

    assert users_writer.put(f"{url}/$ref", _ref(world.approver),
                            format="json").status_code == 204
    world.member.refresh_from_db()
    assert world.member.manager_id == world.approver.pk
    manager = callers.reader.get(url).json()
    assert manager["@odata.context"].endswith("/v1.0/$metadata#directoryObjects/$entity")
    assert (manager["@odata.type"], manager["id"], manager["mail"]) == (
        "#microsoft.graph.user", str(world.approver.pk), "approver@access.example")
    assert set(callers.reader.get(url, {"$select": "displayName"}).json()) == {
        "@odata.context", "id", "displayName"}
    # A directoryObjects URL names a person too, as Graph's SDKs write it.
    body = {"@odata.id": f"{GRAPH}/directoryObjects/{world.owner.pk}"}
    assert users_writer.put(f"{url}/$ref", body, format="json").status_code == 204
    assert callers.reader.get(url).json()["id"] == str(world.owner.pk)

    assert users_writer.delete(f"{url}/$ref").status_code == 204
    world.member.refresh_from_db()
    assert world.member.manager_id is None
    assert_graph_error(callers.reader.get(url), 404)
    assert_graph_error(users_writer.delete(f"{url}/$ref"), 404, "manager")


def test_a_manager_nobody_else_sees_is_no_manager(world, callers, admin):
    person_update(actor=admin, user_id=world.member.pk, changes={"manager_id": world.owner.pk})
    # The member, without a role, sees only themselves in the directory.
    assert_graph_error(callers.member.get(f"{USERS}/{world.member.pk}/manager"), 404)


def test_a_cycle_of_managers_is_refused(world, users_writer, admin):
    person_update(actor=admin, user_id=world.member.pk,
                  changes={"manager_id": world.approver.pk})
    before = _before()
    error = assert_refused(
        users_writer.put(f"{USERS}/{world.approver.pk}/manager/$ref", _ref(world.member),
                         format="json"), 400, "manager:", "cycle", before=before)
    assert error["code"] == "managerCycle"
    assert_refused(users_writer.put(f"{USERS}/{world.member.pk}/manager/$ref",
                                    _ref(world.member), format="json"), 400, "cycle",
                   before=before)


@pytest.mark.parametrize(("reference", "status"), [
    (f"{GRAPH}/users/999999", 404),
    (f"{GRAPH}/groups/1", 400),
    ("not a URL", 400),
    ("", 400),
])
def test_a_manager_reference_to_nobody_is_refused(world, users_writer, reference, status):
    before = _before()
    error = assert_refused(
        users_writer.put(f"{USERS}/{world.member.pk}/manager/$ref", {"@odata.id": reference},
                         format="json"), status, before=before)
    if status == 404:
        assert error["code"] == "Request_ResourceNotFound"


def test_an_api_clients_principal_cannot_be_a_manager(world, users_writer):
    principal = User.objects.filter(user_type=UserType.SERVICE).first()
    before = _before()
    assert_refused(users_writer.put(f"{USERS}/{world.member.pk}/manager/$ref", _ref(principal),
                                    format="json"), 404, before=before)


# Sponsors


def test_sponsors_are_listed_added_and_removed_by_reference(world, users_writer, callers):
    url = f"{USERS}/{world.requester.pk}/sponsors"
    listing = callers.reader.get(url).json()
    assert listing["@odata.context"].endswith("/v1.0/$metadata#directoryObjects")
    assert listing["value"] == []

    for sponsor in (world.owner, world.approver):
        response = users_writer.post(f"{url}/$ref", _ref(sponsor), format="json")
        assert response.status_code == 204, response.content
    assert _sponsors(world.requester) == sorted([world.owner.pk, world.approver.pk])
    listing = callers.reader.get(url, {"$select": "mail"}).json()["value"]
    assert [item["mail"] for item in listing] == ["approver@access.example",
                                                  "owner@access.example"]
    assert listing[0]["@odata.type"] == "#microsoft.graph.user"

    before = _before()
    error = assert_refused(users_writer.post(f"{url}/$ref", _ref(world.owner), format="json"),
                           400, "already exist", "'sponsors'", before=before)
    assert error["code"] == "Request_BadRequest"
    assert_refused(users_writer.post(f"{url}/$ref", _ref(world.requester), format="json"),
                   400, "sponsors:", "themselves", before=before)
    assert_refused(users_writer.post(f"{url}/$ref", {"@odata.id": f"{GRAPH}/users/999999"},
                                     format="json"), 404, before=before)

    assert users_writer.delete(f"{url}/{world.owner.pk}/$ref").status_code == 204
    assert _sponsors(world.requester) == [world.approver.pk]
    before = _before()
    for missing in (world.owner.pk, 999999, "x"):
        error = assert_refused(users_writer.delete(f"{url}/{missing}/$ref"), 404,
                               before=before)
        assert error["code"] == "Request_ResourceNotFound"


# Who may


def test_an_unknown_user_is_404_everywhere(world, users_writer):
    for method, url, body in [
        ("get", f"{USERS}/999999", None), ("patch", f"{USERS}/999999", {"jobTitle": "x"}),
        ("get", f"{USERS}/abc", None),
        ("get", f"{USERS}/999999/manager", None),
        ("put", f"{USERS}/999999/manager/$ref", _ref(world.owner)),
        ("delete", f"{USERS}/999999/manager/$ref", None),
        ("get", f"{USERS}/999999/sponsors", None),
        ("post", f"{USERS}/999999/sponsors/$ref", _ref(world.owner)),
        ("delete", f"{USERS}/999999/sponsors/{world.owner.pk}/$ref", None),
    ]:
        response = getattr(users_writer, method)(url, body, format="json")
        error = assert_graph_error(response, 404)
        assert error["code"] == "Request_ResourceNotFound", (method, url)


@pytest.mark.parametrize("who", ["reader", "writer", "users_reader"])
def test_changing_users_needs_user_read_write_all(world, callers, users_reader, who):
    client = users_reader if who == "users_reader" else getattr(callers, who)
    before = _before()
    for response in [
        _patch(client, world.member, {"jobTitle": "x"}),
        client.put(f"{USERS}/{world.member.pk}/manager/$ref", _ref(world.owner), format="json"),
        client.delete(f"{USERS}/{world.member.pk}/manager/$ref"),
        client.post(f"{USERS}/{world.member.pk}/sponsors/$ref", _ref(world.owner),
                    format="json"),
        client.delete(f"{USERS}/{world.member.pk}/sponsors/{world.owner.pk}/$ref"),
    ]:
        error = assert_refused(response, 403, "User.ReadWrite.All", before=before)
        assert error["code"] == "Authorization_RequestDenied"


def test_user_permissions_do_not_reach_entitlement_management(world, users_writer):
    response = users_writer.get("/v1.0/identityGovernance/entitlementManagement/catalogs")
    assert_graph_error(response, 403, "EntitlementManagement.Read.All")
    assert_graph_error(users_writer.get("/v1.0/groups"), 403)


def test_people_change_people_only_as_user_administrators(world, callers):
    before = _before()
    # A person's own token is delegated: the services decide, and a member may not.
    assert_refused(_patch(callers.member, world.member, {"jobTitle": "Boss"}), 403,
                   "administrators", before=before)
    assert_refused(_patch(callers.owner, world.member, {"jobTitle": "Boss"}), 403,
                   "administrators", before=before)
    # Nor can they see anyone else to change.
    assert_refused(_patch(callers.member, world.owner, {"jobTitle": "Boss"}), 404,
                   before=before)

    user_admin = UserFactory(email="people.admin@access.example")
    user_admin.global_roles.create(role=GlobalRole.USER_ADMIN)
    client = person_client(user_admin)
    assert _patch(client, world.member, {"jobTitle": "Auditor"}).status_code == 204
    assert client.put(f"{USERS}/{world.member.pk}/manager/$ref", _ref(world.owner),
                      format="json").status_code == 204
    world.member.refresh_from_db()
    assert (world.member.job_title, world.member.manager_id) == ("Auditor", world.owner.pk)


def test_what_a_provisioning_client_keeps_is_refused_the_rest_changes(world, users_writer):
    principal = User.objects.create(email="scim-client@clients.invalid",
                                    username="scim-client@clients.invalid",
                                    user_type=UserType.SERVICE, display_name="Okta")
    client = ProvisioningClient.objects.create(
        display_name="Okta", token_hash=make_password("x"), token_prefix="abcd1234",
        principal=principal)
    User.objects.filter(pk=world.member.pk).update(
        provisioned_by=client, provisioned_fields=["department", "manager_id", "active"])
    before = _before()
    error = assert_refused(_patch(users_writer, world.member, {"department": "Sales"}), 403,
                           "department", "Okta", before=before)
    assert error["code"] == "managedByProvisioning"
    assert_refused(users_writer.put(f"{USERS}/{world.member.pk}/manager/$ref",
                                    _ref(world.owner), format="json"), 403, "Okta",
                   before=before)
    # What the client does not keep changes; and a leaver never waits for the next sync.
    assert _patch(users_writer, world.member, {"jobTitle": "Auditor"}).status_code == 204
    assert _patch(users_writer, world.member, {"accountEnabled": False}).status_code == 204
    world.member.refresh_from_db()
    assert (world.member.job_title, world.member.is_active) == ("Auditor", False)
