from governance.models import User
from tests.scim.conftest import ENTERPRISE, user_body


def test_a_provisioned_person_is_created_read_and_found(okta):
    created = okta.post("/Users", user_body("ada@access.example", externalId="00u1",
                                             title="Engineer",
                                             **{ENTERPRISE: {"department": "R&D"}}))
    assert created.status_code == 201, created.content
    body = created.json()
    person = User.objects.get(pk=body["id"])
    assert (person.email, person.job_title, person.department, person.external_id) == (
        "ada@access.example", "Engineer", "R&D", "00u1")
    assert not person.has_usable_password()
    found = okta.get('/Users?filter=userName eq "ADA@access.example"')
    assert found.status_code == 200, found.content
    assert [r["id"] for r in found.json()["Resources"]] == [body["id"]]
