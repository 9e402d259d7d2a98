"""The People page of the admin: user administrators and global administrators add people,
set their attributes, manager and sponsors, deactivate and re-activate them, through the
people services; what a provisioning client manages is read-only and a forged change of it
is refused; nobody else has the page, and the people look-up behind autocomplete still
answers every admin user."""

import json
import re
from html import unescape

import pytest
from django.core import mail
from django.urls import reverse

from governance.choices import CatalogRole, GlobalRole
from governance.models import AuditEvent, GlobalRoleAssignment, User
from governance.services.people import person_create
from governance.services.provisioning_clients import provisioning_client_create
from tests.factories import CatalogFactory, UserFactory, role_holder, with_totp

PEOPLE = "admin:governance_person"
TEXT_FIELDS = ("display_name", "first_name", "last_name", "department", "job_title",
               "employee_id", "employee_type", "company_name", "division", "office_location",
               "cost_center")


@pytest.fixture
def user_admin(db, fast_passwords):
    admin = UserFactory(email="people.admin@access.example", display_name="People Admin",
                        totp=True)  # the admin asks user administrators for two-step too
    GlobalRoleAssignment.objects.create(user=admin, role=GlobalRole.USER_ADMIN)
    return admin


@pytest.fixture
def global_admin(db, fast_passwords):
    return UserFactory(email="global.admin@access.example", is_superuser=True)


@pytest.fixture
def ada(db, fast_passwords):
    return UserFactory(email="ada@access.example", display_name="Ada Lovelace",
                       department="Research", job_title="Analyst")


@pytest.fixture
def grace(db, fast_passwords):
    return UserFactory(email="grace@access.example", display_name="Grace Hopper")


@pytest.fixture
def okta_person(global_admin):
    """Somebody Okta provisions: it manages their name, department and manager."""
    okta, _ = provisioning_client_create(actor=global_admin, display_name="Okta")
    boss = UserFactory(email="boss@access.example", display_name="Boss")
    return person_create(actor=okta.principal, values={
        "email": "linus@access.example", "display_name": "Linus", "department": "Kernel",
        "manager_id": boss.pk})


def page(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def shown(response) -> str:
    """The page's text without tags, with spaces tidied."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", page(response))).split())


def code_in(message) -> str:
    return re.search(r"^\s*([A-Z0-9-]{4,12})\s*$", message.body, re.MULTILINE).group(1)


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def form_post(person: User, **changes) -> dict:
    """What the change form posts for `person` as it stands, with `changes`."""
    data = {name: getattr(person, name) for name in TEXT_FIELDS}
    data["manager"] = person.manager_id or ""
    data["sponsors"] = list(person.sponsors.values_list("pk", flat=True))
    data.update(changes)
    data["_save"] = "Save"
    return {name: value for name, value in data.items() if value is not None}


def change_url(person) -> str:
    return reverse(f"{PEOPLE}_change", args=[person.pk])


# Editing


def test_a_user_administrator_edits_attributes_and_manager(as_user, user_admin, ada, grace):
    client = as_user(user_admin)
    assert "Ada Lovelace" in page(client.get(change_url(ada)))
    response = client.post(change_url(ada), form_post(
        ada, department="Analytical Engines", office_location="London", manager=grace.pk,
        sponsors=[grace.pk]))
    assert response.status_code == 302, shown(response)[:2000]
    ada.refresh_from_db()
    assert (ada.department, ada.office_location, ada.job_title, ada.manager) == (
        "Analytical Engines", "London", "Analyst", grace)
    assert list(ada.sponsors.all()) == [grace]
    event = AuditEvent.objects.get(action="user.updated", object_id=str(ada.pk))
    assert event.actor == user_admin
    assert event.before["department"] == "Research"
    assert event.after == {"department": "Analytical Engines", "office_location": "London",
                           "manager_id": grace.pk, "sponsor_ids": [grace.pk]}


def test_the_service_refusal_shows_on_the_form_and_nothing_is_saved(as_user, user_admin, ada,
                                                                     grace):
    grace.manager = ada
    grace.save(update_fields=["manager"])
    response = as_user(user_admin).post(change_url(ada), form_post(
        ada, department="Changed", manager=grace.pk))
    assert "would make a cycle of managers" in shown(response)
    ada.refresh_from_db()
    assert (ada.department, ada.manager) == ("Research", None)


def test_the_list_searches_and_filters(as_user, user_admin, ada, grace, okta_person):
    client = as_user(user_admin)
    changelist = reverse(f"{PEOPLE}_changelist")
    listed = shown(client.get(changelist, {"q": "lovelace"}))
    assert "Ada Lovelace" in listed and "Grace Hopper" not in listed
    by_department = shown(client.get(changelist, {"department": "Research"}))
    assert "Ada Lovelace" in by_department and "Grace Hopper" not in by_department
    by_client = shown(client.get(changelist, {
        "provisioned_by__id__exact": okta_person.provisioned_by_id}))
    assert "Linus" in by_client and "Ada Lovelace" not in by_client
    assert "Import people from CSV" in listed


# Provisioned people


def test_a_provisioned_field_is_read_only_and_a_forged_post_is_refused(as_user, user_admin,
                                                                       okta_person, grace):
    client = as_user(user_admin)
    html = page(client.get(change_url(okta_person)))
    department = re.search(r'<input[^>]*name="department"[^>]*>', html).group(0)
    assert "disabled" in department
    assert "managed by Okta provisioning" in html
    title = re.search(r'<input[^>]*name="job_title"[^>]*>', html).group(0)
    assert "disabled" not in title

    # A browser leaves the disabled fields out: what Okta does not manage is saved.
    honest = form_post(okta_person, job_title="Maintainer")
    for managed in ("display_name", "department", "manager"):
        honest.pop(managed)
    assert client.post(change_url(okta_person), honest).status_code == 302
    okta_person.refresh_from_db()
    assert (okta_person.job_title, okta_person.department) == ("Maintainer", "Kernel")

    # A forged request that sends a managed field is refused, with nothing saved.
    forged = form_post(okta_person, department="Forged", office_location="Helsinki")
    forged.pop("display_name")
    forged.pop("manager")
    before = AuditEvent.objects.count()
    text = shown(client.post(change_url(okta_person), forged))
    refused = "of linus@access.example is managed by Okta provisioning; change it there"
    assert refused in text
    okta_person.refresh_from_db()
    assert (okta_person.department, okta_person.office_location) == ("Kernel", "")
    assert AuditEvent.objects.count() == before
    forged_manager = form_post(okta_person, manager=grace.pk)
    for managed in ("display_name", "department"):
        forged_manager.pop(managed)
    assert refused in shown(client.post(change_url(okta_person), forged_manager))
    okta_person.refresh_from_db()
    assert okta_person.manager.email == "boss@access.example"


# Leaving and coming back


def test_deactivate_with_a_reason_and_re_activate(as_user, user_admin, ada):
    client = as_user(user_admin)
    assert "Deactivate…" in page(client.get(change_url(ada)))
    deactivate = reverse(f"{PEOPLE}_deactivate", args=[ada.pk])
    assert 'name="reason"' in page(client.get(deactivate))
    ada.refresh_from_db()
    assert ada.is_active  # asking does nothing

    assert "This field is required" in shown(client.post(deactivate, {"reason": ""}))
    ada.refresh_from_db()
    assert ada.is_active

    response = client.post(deactivate, {"reason": "Left on 31 March"}, follow=True)
    ada.refresh_from_db()
    assert not ada.is_active and ada.deactivated_at is not None
    assert any("is deactivated" in message for message in messages_of(response))
    event = AuditEvent.objects.get(action="user.deactivated", object_id=str(ada.pk))
    assert (event.actor, event.details["reason"]) == (user_admin, "Left on 31 March")
    assert "Re-activate…" in page(response)

    # Deactivating twice: the service's refusal, as a message.
    again = client.post(deactivate, {"reason": "Twice"}, follow=True)
    assert any("was not deactivated" in message and "deactivated already" in message
               for message in messages_of(again))

    reactivate = reverse(f"{PEOPLE}_reactivate", args=[ada.pk])
    assert "not given back" in shown(client.get(reactivate))
    response = client.post(reactivate, follow=True)
    ada.refresh_from_db()
    assert ada.is_active and ada.deactivated_at is None
    assert any("is active again" in message for message in messages_of(response))
    assert AuditEvent.objects.get(action="user.reactivated").actor == user_admin
    again = client.post(reactivate, follow=True)
    assert any("was not re-activated" in message and "active already" in message
               for message in messages_of(again))


# Joining


def test_a_person_added_in_the_admin_signs_in_with_an_emailed_code(as_user, user_admin, grace,
                                                                    client, settings):
    admin_client = as_user(user_admin)
    add_page = shown(admin_client.get(reverse(f"{PEOPLE}_add")))
    assert "Sign in with a code" in add_page and "Forgot your password?" in add_page
    response = admin_client.post(reverse(f"{PEOPLE}_add"), {
        "email": "Joan@Access.Example", "user_type": "member", "display_name": "Joan Clarke",
        "department": "Hut 8", "manager": grace.pk, "_save": "Save"})
    assert response.status_code == 302, shown(response)[:2000]
    joan = User.objects.get(email="joan@access.example")
    assert (joan.department, joan.manager, joan.has_usable_password()) == (
        "Hut 8", grace, False)
    assert AuditEvent.objects.get(action="user.provisioned").actor == user_admin

    # What the help text promises: allauth emails them a code, and a password reset link.
    client.logout()
    response = client.post(reverse("account_request_login_code"),
                           {"email": "joan@access.example"})
    assert response["Location"] == reverse("account_confirm_login_code")
    code = code_in(mail.outbox[-1])
    response = client.post(reverse("account_confirm_login_code"), {"code": code})
    # The first time, allauth confirms the address too, with a second code.
    assert response["Location"] == reverse("account_email_verification_sent")
    client.post(reverse("account_email_verification_sent"), {"code": code_in(mail.outbox[-1])})
    assert client.get(reverse("account_email")).wsgi_request.user == joan
    client.logout()
    mail.outbox.clear()
    client.post(reverse("account_reset_password"), {"email": "joan@access.example"})
    assert mail.outbox and mail.outbox[-1].to == ["joan@access.example"]
    assert "/password/reset/key/" in mail.outbox[-1].body


def test_an_address_taken_already_is_refused_on_the_form(as_user, user_admin, ada):
    response = as_user(user_admin).post(reverse(f"{PEOPLE}_add"), {
        "email": "ADA@access.example", "user_type": "member", "_save": "Save"})
    assert "Somebody has the address ada@access.example already" in shown(response)
    assert User.objects.filter(email__iexact="ada@access.example").count() == 1


# Roles


def test_a_global_administrator_makes_someone_a_user_administrator(as_user, global_admin, ada,
                                                                    client):
    admin_client = as_user(global_admin)
    assert "User administrator" in shown(admin_client.get(change_url(ada)))
    response = admin_client.post(change_url(ada), form_post(
        ada, global_roles=[GlobalRole.USER_ADMIN]))
    assert response.status_code == 302, shown(response)[:2000]
    assert list(ada.global_roles.values_list("role", flat=True)) == [GlobalRole.USER_ADMIN]
    event = AuditEvent.objects.get(action="user.globalRolesChanged")
    assert (event.actor, event.after) == (global_admin, {"globalRoles": ["userAdministrator"]})
    client.force_login(ada, backend="allauth.account.auth_backends.AuthenticationBackend")
    # The new user administrator is led to set up two-step first, then has the People page.
    assert "/accounts/2fa/totp/activate/" in client.get(reverse(f"{PEOPLE}_changelist"))["Location"]
    with_totp(ada)
    assert client.get(reverse(f"{PEOPLE}_changelist")).status_code == 200

    # Taken away again.
    admin_client.force_login(global_admin,
                             backend="allauth.account.auth_backends.AuthenticationBackend")
    admin_client.post(change_url(ada), form_post(ada, global_roles=[]))
    assert not ada.global_roles.exists()


def test_a_user_administrator_cannot_grant_global_roles(as_user, user_admin, ada):
    client = as_user(user_admin)
    assert "Global roles" not in shown(client.get(change_url(ada)))
    client.post(change_url(ada), form_post(ada, global_roles=[GlobalRole.CATALOG_CREATOR]))
    assert not ada.global_roles.exists()
    assert not user_admin.global_roles.exclude(role=GlobalRole.USER_ADMIN).exists()


# Who has the page


def test_the_index_lists_people_for_user_administrators_only(as_user, user_admin, db):
    owner = role_holder(CatalogFactory(), CatalogRole.OWNER, email="owner@access.example")
    people_link = reverse(f"{PEOPLE}_changelist")
    assert people_link in page(as_user(user_admin).get(reverse("admin:index")))
    assert people_link not in page(as_user(owner).get(reverse("admin:index")))


def test_a_catalog_owner_without_the_role_gets_no_people_page(as_user, ada, db):
    owner = role_holder(CatalogFactory(), CatalogRole.OWNER, email="owner@access.example")
    client = as_user(owner)
    for url in (reverse(f"{PEOPLE}_changelist"), reverse(f"{PEOPLE}_add"), change_url(ada),
                reverse(f"{PEOPLE}_deactivate", args=[ada.pk]),
                reverse("admin:governance_peopleimportjob_changelist"),
                reverse("admin:governance_peopleimportjob_add")):
        assert client.get(url).status_code == 403, url
    client.post(change_url(ada), form_post(ada, department="Changed"))
    client.post(reverse(f"{PEOPLE}_deactivate", args=[ada.pk]), {"reason": "Gone"})
    ada.refresh_from_db()
    assert ada.is_active and ada.department == "Research"


def test_the_autocomplete_lookup_still_works_for_a_catalog_owner(as_user, ada, db):
    owner = role_holder(CatalogFactory(), CatalogRole.OWNER, email="owner@access.example")
    response = as_user(owner).get(reverse("admin:autocomplete"), {
        "app_label": "governance", "model_name": "catalogroleassignment", "field_name": "user",
        "term": "lovelace"})
    assert response.status_code == 200
    assert [result["text"] for result in json.loads(response.content)["results"]] == [
        "Ada Lovelace"]
    # The look-up page itself too, read-only.
    assert "Ada Lovelace" in page(as_user(owner).get(
        reverse("admin:governance_user_change", args=[ada.pk])))


def test_the_people_form_looks_managers_up_by_autocomplete(as_user, user_admin, ada, grace):
    client = as_user(user_admin)
    html = page(client.get(change_url(ada)))
    for name in ("manager", "sponsors"):
        select = re.search(rf'<select[^>]*name="{name}"[^>]*>', html).group(0)
        assert 'class="admin-autocomplete"' in select
        assert f'data-ajax--url="{reverse("admin:autocomplete")}"' in select
    model_name = re.search(r'<select[^>]*name="manager"[^>]*data-model-name="(\w+)"',
                           html).group(1)
    response = client.get(reverse("admin:autocomplete"), {
        "app_label": "governance", "model_name": model_name, "field_name": "manager",
        "term": "hopper"})
    assert [result["id"] for result in json.loads(response.content)["results"]] == [
        str(grace.pk)]
