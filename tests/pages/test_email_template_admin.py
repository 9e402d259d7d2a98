"""The admin's email templates (through the service, with a preview) and its read-only outbox."""

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from governance.admin import notifications as governance_admin
from governance.models import AuditEvent, EmailTemplate, OutboxMessage
from governance.notifications import render_email
from governance.services.email_templates import email_template_save
from tests.factories import UserFactory, submit_request

ADD_URL = reverse("admin:governance_emailtemplate_add")
LIST_URL = reverse("admin:governance_emailtemplate_changelist")
FORM = {"topic": "approval_needed", "language": "",
        "subject": "Please decide: {{ request.access_package }} for {{ request.target }}",
        "text_body": "{{ request.requestor }} waits for your decision:\r\n{{ approval_url }}",
        "html_body": ""}


@pytest.fixture
def administrator(world):
    return UserFactory(email="admin@access.example", display_name="Admin", is_staff=True,
                       is_superuser=True)


@pytest.fixture
def admin_client(as_user, administrator):
    return as_user(administrator)


def change_url(template: EmailTemplate) -> str:
    return reverse("admin:governance_emailtemplate_change", args=[template.pk])


def field_errors(response, field: str) -> list[str]:
    return list(response.context["adminform"].form.errors.get(field, []))


def test_changelist_shows_each_version_with_its_audience(admin_client, administrator):
    email_template_save(actor=administrator, **FORM)
    email_template_save(actor=administrator, **(FORM | {"topic": "access_ended",
                                                        "language": "fr"}))
    page = admin_client.get(LIST_URL).content.decode()
    assert "approval_needed" in page and "A request waits for their decision" in page
    assert "access_ended" in page and "Français" in page and "All languages" in page
    assert "Admin" in page


def test_the_add_form_starts_from_the_chosen_emails_standard_text(admin_client):
    page = admin_client.get(ADD_URL + "?topic=approval_reminder").content.decode()
    assert ("Reminder: approval needed by {{ stage.due_at|date:&quot;DATETIME_FORMAT&quot; }}"
            in page)
    assert "emails/fragment_approval_link.txt" in page
    assert "approval_reminder — Approvers: Reminder halfway" in page
    assert 'name="_preview"' in page


def test_preview_shows_the_sample_above_the_form_without_saving(admin_client):
    response = admin_client.post(ADD_URL, FORM | {
        "_preview": "Preview", "text_body": FORM["text_body"] + "\r\n<b>Thanks</b>",
        "html_body": '<p style="color: teal">Hi {{ recipient }}</p>'})
    assert response.status_code == 200
    page = response.content.decode()
    assert "Preview (not saved)" in page
    assert page.index("Preview (not saved)") < page.index('id="emailtemplate_form"')
    assert "Please decide: Project Falcon for Ada Lovelace" in page
    assert "Ada Lovelace waits for your decision:" in page
    assert "/approvals/link/sample-link-for-the-preview/" in page
    # The HTML part in a sandboxed frame, escaped into its srcdoc.
    assert 'sandbox="" title="HTML part of the previewed email"' in page
    assert ('srcdoc="&lt;p style=&quot;color: teal&quot;&gt;Hi Grace Hopper&lt;/p&gt;"'
            in page)
    # The text part is text, not markup of the admin page.
    assert "&lt;b&gt;Thanks&lt;/b&gt;" in page and "<b>Thanks</b>" not in page
    # What was typed stays in the form, and nothing is saved or audited.
    assert "Please decide: {{ request.access_package }}" in page
    assert not EmailTemplate.objects.exists() and not AuditEvent.objects.filter(
        action__startswith="emailTemplate").exists()


def test_preview_of_a_template_that_fails_on_the_sample_says_why(admin_client):
    response = admin_client.post(ADD_URL, FORM | {
        "_preview": "Preview", "text_body": '{% include "emails/missing.txt" %}'})
    assert response.status_code == 200
    assert "Preview (not saved)" not in response.content.decode()
    errors = list(response.context["adminform"].form.non_field_errors())
    assert errors == ["The sample email could not be rendered: the template "
                      "“emails/missing.txt” does not exist."]
    assert not EmailTemplate.objects.exists()


def test_saving_creates_the_version_through_the_service_and_emails_use_it(
        admin_client, administrator, world):
    response = admin_client.post(ADD_URL, FORM | {"_save": "Save"})
    assert response.status_code == 302 and response.url == LIST_URL
    template = EmailTemplate.objects.get()
    assert template.updated_by == administrator
    assert template.text_body == "{{ request.requestor }} waits for your decision:\n" \
                                 "{{ approval_url }}"
    event = AuditEvent.objects.get(action="emailTemplate.created")
    assert (event.actor, event.object_id) == (administrator, str(template.pk))
    stage = submit_request(world).stages.get(order=1)
    email = render_email("approval_needed", {"request_id": stage.request_id,
                                             "stage_id": stage.pk}, world.approver)
    assert email.subject == "Please decide: Falcon collaboration for Requester"
    assert email.text.startswith("Requester waits for your decision:\nhttp")


def test_changing_and_deleting_go_through_the_service(admin_client, administrator):
    template = email_template_save(actor=administrator, **FORM)
    response = admin_client.post(change_url(template), FORM | {"subject": "Decide now",
                                                               "_save": "Save"})
    assert response.status_code == 302
    assert EmailTemplate.objects.get().subject == "Decide now"
    changed = AuditEvent.objects.get(action="emailTemplate.changed")
    assert (changed.before["subject"], changed.after["subject"]) == (FORM["subject"],
                                                                     "Decide now")
    response = admin_client.post(
        reverse("admin:governance_emailtemplate_delete", args=[template.pk]), {"post": "yes"})
    assert response.status_code == 302
    assert not EmailTemplate.objects.exists()
    assert AuditEvent.objects.get(action="emailTemplate.deleted").actor == administrator


def test_deleting_selected_versions_goes_through_the_service(admin_client, administrator):
    ids = [email_template_save(actor=administrator, **(FORM | {"language": language})).pk
           for language in ("", "de")]
    response = admin_client.post(LIST_URL, {"action": "delete_selected", "post": "yes",
                                            "_selected_action": ids})
    assert response.status_code == 302
    assert not EmailTemplate.objects.exists()
    assert AuditEvent.objects.filter(action="emailTemplate.deleted").count() == 2


@pytest.mark.parametrize("button", ["_save", "_preview"])
def test_a_template_that_does_not_compile_is_shown_beside_its_field(admin_client, button):
    response = admin_client.post(ADD_URL, FORM | {"text_body": "{% if request %}Hi",
                                                  button: "1"})
    assert response.status_code == 200
    errors = field_errors(response, "text_body")
    assert len(errors) == 1 and errors[0].startswith("The text body is not a valid template:")
    assert "Unclosed tag on line 1: 'if'" in errors[0]
    assert field_errors(response, "subject") == []
    page = response.content.decode()
    assert "Please correct the error below." in page and "Preview (not saved)" not in page
    assert not EmailTemplate.objects.exists()


def test_a_second_version_for_the_same_language_is_refused_once(admin_client, administrator):
    email_template_save(actor=administrator, **FORM)
    response = admin_client.post(ADD_URL, FORM | {"_save": "Save"})
    assert response.status_code == 200
    errors = list(response.context["adminform"].form.non_field_errors())
    assert errors == ["The email “approval_needed” already has a version for all languages; "
                      "change that one instead."]
    assert EmailTemplate.objects.count() == 1


def test_a_version_saved_by_someone_else_after_the_check_shows_the_refusal(
        admin_client, administrator, monkeypatch):
    """The form's check passed, then another administrator's version got in first."""
    email_template_save(actor=None, **FORM)
    real_check = governance_admin.email_template_check
    checks = []

    def first_check_misses_the_other_version(**arguments):
        checks.append(arguments)
        if len(checks) == 1:
            return real_check(**(arguments | {"language": "nl"})) | {"language": ""}
        return real_check(**arguments)

    monkeypatch.setattr(governance_admin, "email_template_check",
                        first_check_misses_the_other_version)
    response = admin_client.post(ADD_URL, FORM | {"_save": "Save"})
    assert response.status_code == 200 and len(checks) == 2
    assert "already has a version for all languages" in response.content.decode()
    assert EmailTemplate.objects.get().updated_by is None
    assert not AuditEvent.objects.filter(actor=administrator).exists()


def test_people_who_are_not_staff_are_sent_to_the_admin_sign_in(client, as_user, world):
    for url in (LIST_URL, ADD_URL):
        assert client.get(url).status_code == 302
        response = as_user(world.requester).get(url)
        assert response.status_code == 302 and "/admin/login/" in response.url
    response = as_user(world.requester).post(ADD_URL, FORM | {"_preview": "Preview"})
    assert response.status_code == 302 and "/admin/login/" in response.url


def test_catalog_owners_use_the_admin_but_not_the_emails(as_user, world):
    """Email templates are for global administrators; Django's staff flag and model
    permissions grant nothing here."""
    client = as_user(world.owner)
    assert client.get(reverse("admin:index")).status_code == 200
    assert client.get(LIST_URL).status_code == 403
    assert client.post(ADD_URL, FORM | {"_preview": "Preview"}).status_code == 403
    staff = UserFactory(email="staff@access.example", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_emailtemplate"))
    assert as_user(staff).get(LIST_URL).status_code == 302
    assert not EmailTemplate.objects.exists()


def test_the_outbox_is_read_only_with_state_attempts_and_last_error(admin_client, world):
    submit_request(world)
    message = OutboxMessage.objects.get(topic="approval_needed")
    OutboxMessage.objects.filter(pk=message.pk).update(
        attempts=3, last_error="SMTP 451: try again later")
    changelist = reverse("admin:governance_outboxmessage_changelist")
    page = admin_client.get(changelist).content.decode()
    assert "approver@access.example" in page and "SMTP 451: try again later" in page
    assert admin_client.get(changelist + "?q=approver@").status_code == 200
    assert admin_client.get(changelist + "?state__exact=queued").status_code == 200
    detail = reverse("admin:governance_outboxmessage_change", args=[message.pk])
    page = admin_client.get(detail).content.decode()
    assert "SMTP 451" in page and 'name="_save"' not in page
    assert admin_client.post(detail, {"state": "sent"}).status_code == 403
    assert admin_client.get(reverse("admin:governance_outboxmessage_add")).status_code == 403
    delete = reverse("admin:governance_outboxmessage_delete", args=[message.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    message.refresh_from_db()
    assert (message.state, message.attempts) == ("queued", 3)
