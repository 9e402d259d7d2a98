"""What Microsoft Entra's and Okta's provisioning services actually send (their SCIM
compliance notes and request logs), not only what RFC 7644 says they should."""

from governance.models import AuditEvent, Group, User
from tests.scim.conftest import ENTERPRISE, GROUP, user_body


def _create(okta, email="ada@access.example", **extra):
    response = okta.post("/Users", user_body(email, **extra))
    assert response.status_code == 201, response.content
    return response.json()["id"]


def test_entra_deactivates_with_a_capitalised_replace_and_active_as_a_string(okta):
    person_id = _create(okta)
    response = okta.patch(f"/Users/{person_id}",
                          {"op": "Replace", "path": "active", "value": "False"})
    assert response.status_code == 200, response.content
    assert response.json()["active"] is False
    person = User.objects.get(pk=person_id)
    assert not person.is_active and person.deactivated_at is not None
    assert AuditEvent.objects.filter(action="user.deactivated", object_id=person_id).exists()


def test_entra_replaces_without_a_path_and_sets_work_email_by_filter(okta):
    person_id = _create(okta)
    assert okta.patch(f"/Users/{person_id}",
                      {"op": "Replace", "value": {"displayName": "Ada L.", "title": "CTO"}},
                      {"op": "Add", "path": 'emails[type eq "work"].value',
                       "value": "ada.lovelace@access.example"}).status_code == 200
    person = User.objects.get(pk=person_id)
    assert (person.display_name, person.job_title, person.email) == (
        "Ada L.", "CTO", "ada.lovelace@access.example")


def test_entra_sets_the_manager_and_enterprise_attributes_by_their_urn_paths(okta):
    boss_id = _create(okta, "boss@access.example")
    person_id = _create(okta)
    response = okta.patch(
        f"/Users/{person_id}",
        {"op": "Add", "path": f"{ENTERPRISE}:manager", "value": {"value": boss_id}},
        {"op": "Replace", "path": f"{ENTERPRISE}:department", "value": "Finance"})
    assert response.status_code == 200, response.content
    person = User.objects.get(pk=person_id)
    assert (person.manager_id, person.department) == (int(boss_id), "Finance")
    assert response.json()[ENTERPRISE]["manager"]["value"] == boss_id


def test_okta_updates_a_profile_with_put_and_deactivates_with_a_pathless_patch(okta):
    person_id = _create(okta, externalId="00u1")
    body = user_body("ada@access.example", externalId="00u1", title="Analyst",
                     **{ENTERPRISE: {"costCenter": "CC-7", "organization": "Access"}})
    body["id"] = person_id
    assert okta.put(f"/Users/{person_id}", body).status_code == 200
    person = User.objects.get(pk=person_id)
    assert (person.job_title, person.cost_center, person.company_name) == (
        "Analyst", "CC-7", "Access")
    assert okta.patch(f"/Users/{person_id}",
                      {"op": "replace", "value": {"active": False}}).status_code == 200
    assert not User.objects.get(pk=person_id).is_active


def test_okta_finds_people_by_user_name_with_paging(okta):
    for n in range(3):
        _create(okta, f"p{n}@access.example")
    page = okta.get('/Users?filter=userName sw "p"&startIndex=2&count=1').json()
    assert (page["totalResults"], page["startIndex"], page["itemsPerPage"]) == (3, 2, 1)
    assert page["Resources"][0]["userName"] == "p1@access.example"
    either = okta.get('/Users?filter=userName eq "p0@access.example" or '
                      'emails.value co "p2@"').json()
    assert sorted(r["userName"] for r in either["Resources"]) == [
        "p0@access.example", "p2@access.example"]
    assert okta.get('/Users?filter=externalId pr and displayName pr').json()[
        "totalResults"] == 0


def test_group_members_are_added_and_removed_as_entra_and_okta_send_them(okta):
    ids = [_create(okta, f"m{n}@access.example") for n in range(3)]
    created = okta.post("/Groups", {"schemas": [GROUP], "displayName": "Sales",
                                    "externalId": "g-1"})
    assert created.status_code == 201, created.content
    group_id = created.json()["id"]
    assert okta.patch(f"/Groups/{group_id}", {"op": "Add", "path": "members",
                                              "value": [{"value": i} for i in ids]}
                      ).status_code == 200
    assert okta.patch(f"/Groups/{group_id}",
                      {"op": "remove", "path": f'members[value eq "{ids[0]}"]'}
                      ).status_code == 200
    group = Group.objects.get(pk=group_id)
    assert sorted(map(str, group.members.values_list("pk", flat=True))) == sorted(ids[1:])
    assert group.provisioned_by == okta.record


def test_entra_sends_the_manager_as_a_bare_id(okta):
    boss_id = _create(okta, "boss@access.example")
    person_id = _create(okta)
    response = okta.patch(f"/Users/{person_id}", {"op": "Add", "path": f"{ENTERPRISE}:manager",
                                                  "value": boss_id})
    assert response.status_code == 200, response.content
    assert User.objects.get(pk=person_id).manager_id == int(boss_id)


def test_entra_removes_members_by_value_without_a_filter(okta):
    ids = [_create(okta, f"m{n}@access.example") for n in range(2)]
    group_id = okta.post("/Groups", {"schemas": [GROUP], "displayName": "Ops",
                                     "members": [{"value": i} for i in ids]}).json()["id"]
    response = okta.patch(f"/Groups/{group_id}", {"op": "Remove", "path": "members",
                                                  "value": [{"value": ids[0]}]})
    assert response.status_code == 200, response.content
    assert list(map(str, Group.objects.get(pk=group_id).members.values_list("pk", flat=True))
                ) == [ids[1]]
