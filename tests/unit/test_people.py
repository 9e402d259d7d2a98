"""The joiner and the attribute side of the mover (governance.services.people), whatever the
door: who may create and change people, what a provisioning client keeps as its own, and the
refusals, which write nothing."""

import pytest

from governance.choices import GlobalRole
from governance.models import AuditEvent, GlobalRoleAssignment, User
from governance.services.errors import Duplicate, InvalidInput, InvalidState, NotAllowed, NotFound
from governance.services.people import (
    person_create,
    person_reactivate,
    person_sponsor_add,
    person_sponsor_remove,
    person_update,
)
from governance.services.provisioning_clients import (
    provisioning_client_create,
    provisioning_client_revoke,
)
from tests.factories import UserFactory


def _people() -> list[tuple]:
    fields = ("id", "email", "username", "job_title", "department", "manager_id",
              "provisioned_by_id", "provisioned_fields", "is_active")
    return sorted(User.objects.values_list(*fields))


@pytest.fixture
def refused(assert_refused):
    def check(action, error, code, *words):
        before = _people()
        assert_refused(action, error, code, *words)
        assert _people() == before
    return check


@pytest.fixture
def admin(db):
    return UserFactory(email="global.admin@access.example", is_superuser=True)


@pytest.fixture
def okta(db):
    client, _token = provisioning_client_create(actor=None, display_name="Okta", system=True)
    return client


def test_a_joiner_has_no_password_their_attributes_and_an_audit_event(admin):
    boss = person_create(actor=admin, values={"email": "Boss@Access.example"})
    joiner = person_create(actor=admin, values={
        "email": "ada@access.example", "first_name": "Ada", "last_name": "Lovelace",
        "job_title": "Engineer", "department": "R&D", "manager_id": boss.pk})
    assert (boss.email, boss.username, boss.display_name) == (
        "boss@access.example", "boss@access.example", "boss")
    assert (joiner.display_name, joiner.manager, joiner.job_title) == ("Ada Lovelace", boss,
                                                                      "Engineer")
    assert not joiner.has_usable_password() and joiner.is_active
    event = AuditEvent.objects.get(action="user.provisioned", object_id=str(joiner.pk))
    assert event.actor == admin and event.after["job_title"] == "Engineer"


def test_a_user_administrator_may_create_and_change_people(db):
    user_admin = UserFactory(email="hr@access.example")
    GlobalRoleAssignment.objects.create(user=user_admin, role=GlobalRole.USER_ADMIN)
    person = person_create(actor=user_admin, values={"email": "new@access.example"})
    person_update(actor=user_admin, user_id=person.pk, changes={"department": "Sales"})
    person.refresh_from_db()
    assert person.department == "Sales"


def test_nobody_else_creates_or_changes_people(db, refused):
    member = UserFactory(email="member@access.example")
    refused(lambda: person_create(actor=member, values={"email": "x@access.example"}),
            NotAllowed, "notAllowed", "administrators")
    refused(lambda: person_update(actor=member, user_id=member.pk,
                                  changes={"job_title": "CEO"}),
            NotAllowed, "notAllowed", "administrators")


@pytest.mark.parametrize(("values", "error", "code", "word"), [
    ({"email": "not an address"}, InvalidInput, "invalidValue", "email address"),
    ({"display_name": "No address"}, InvalidInput, "invalidValue", "email address"),
    ({"email": "a@access.example", "shoe_size": 44}, InvalidInput, "unknownField",
     "shoe_size"),
    ({"email": "a@access.example", "job_title": "x" * 201}, InvalidInput, "tooLong",
     "Job title"),
    ({"email": "a@access.example", "department": 7}, InvalidInput, "invalidValue", "text"),
    ({"email": "a@access.example", "user_type": "service"}, InvalidInput, "invalidValue",
     "guest"),
    ({"email": "a@access.example", "active": "yes"}, InvalidInput, "invalidValue", "true"),
    ({"email": "a@access.example", "manager_id": 424242}, InvalidInput, "managerNotFound",
     "manager"),
    ({"email": "a@access.example", "sponsor_ids": [424242]}, InvalidInput, "sponsorNotFound",
     "sponsor"),
    ({"email": "global.admin@access.example"}, Duplicate, "uniqueness", "already"),
], ids=["bad-email", "no-email", "unknown-field", "too-long", "not-text", "service-type",
        "active-not-bool", "no-such-manager", "no-such-sponsor", "taken-email"])
def test_a_bad_value_is_refused_and_nothing_is_written(admin, refused, values, error, code,
                                                       word):
    refused(lambda: person_create(actor=admin, values=values), error, code, word)


def test_what_a_provisioning_client_set_is_its_own(admin, okta, refused):
    person = person_create(actor=okta.principal, values={
        "email": "ada@access.example", "department": "R&D", "external_id": "00u1"})
    assert person.provisioned_by == okta
    assert {"department", "external_id", "email"} <= set(person.provisioned_fields)
    refused(lambda: person_update(actor=admin, user_id=person.pk,
                                  changes={"department": "Sales"}),
            NotAllowed, "managedByProvisioning", "managed by Okta provisioning")
    person_update(actor=admin, user_id=person.pk, changes={"office_location": "Paris"})
    person.refresh_from_db()
    assert (person.office_location, person.department) == ("Paris", "R&D")


def test_another_client_and_a_revoked_one_may_not_change_them(okta, refused):
    entra, _token = provisioning_client_create(actor=None, display_name="Entra", system=True)
    person = person_create(actor=okta.principal, values={"email": "ada@access.example"})
    refused(lambda: person_update(actor=entra.principal, user_id=person.pk,
                                  changes={"job_title": "CTO"}),
            NotAllowed, "provisionedByAnother", "another client")
    provisioning_client_revoke(actor=None, client_id=okta.pk, system=True)
    okta.refresh_from_db()
    refused(lambda: person_update(actor=okta.principal, user_id=person.pk,
                                  changes={"job_title": "CTO"}),
            NotAllowed, "clientRevoked", "revoked")


def test_a_taken_external_id_of_the_same_client_is_a_duplicate(okta, refused):
    person_create(actor=okta.principal, values={"email": "a@access.example",
                                                "external_id": "00u1"})
    refused(lambda: person_create(actor=okta.principal, values={
        "email": "b@access.example", "external_id": "00u1"}), Duplicate, "uniqueness", "00u1")


def test_sponsors_are_added_and_removed_one_at_a_time(admin, refused):
    person = person_create(actor=admin, values={"email": "guest.host@access.example"})
    first, second = (UserFactory(email=f"s{n}@access.example") for n in (1, 2))
    person_sponsor_add(actor=admin, user_id=person.pk, sponsor_id=first.pk)
    person_sponsor_add(actor=admin, user_id=person.pk, sponsor_id=second.pk)
    assert set(person.sponsors.all()) == {first, second}
    refused(lambda: person_sponsor_add(actor=admin, user_id=person.pk, sponsor_id=first.pk),
            InvalidInput, "sponsorExists", "already")
    person_sponsor_remove(actor=admin, user_id=person.pk, sponsor_id=first.pk)
    assert list(person.sponsors.all()) == [second]
    refused(lambda: person_sponsor_remove(actor=admin, user_id=person.pk, sponsor_id=first.pk),
            NotFound, "sponsorNotFound", "not a sponsor")
    refused(lambda: person_sponsor_add(actor=admin, user_id=person.pk, sponsor_id=person.pk),
            InvalidInput, "invalidValue", "themselves")


def test_reactivating_someone_active_is_refused(admin, refused):
    person = person_create(actor=admin, values={"email": "ada@access.example"})
    refused(lambda: person_reactivate(actor=admin, user_id=person.pk),
            InvalidState, "alreadyActive", "active already")


def test_a_person_created_inactive_is_a_leaver_from_the_start(okta):
    person = person_create(actor=okta.principal, values={"email": "late@access.example",
                                                         "active": False})
    person.refresh_from_db()
    assert not person.is_active and person.deactivated_at is not None


def test_a_user_administrator_does_not_change_a_global_administrator(admin, refused):
    user_admin = UserFactory(email="hr@access.example")
    GlobalRoleAssignment.objects.create(user=user_admin, role=GlobalRole.USER_ADMIN)
    refused(lambda: person_update(actor=user_admin, user_id=admin.pk,
                                  changes={"job_title": "Intern"}),
            NotAllowed, "globalAdministrator", "global administrator")
    from governance.services.people import person_deactivate
    refused(lambda: person_deactivate(actor=user_admin, user_id=admin.pk),
            NotAllowed, "globalAdministrator", "global administrator")
