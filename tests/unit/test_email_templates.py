"""Administrators' versions of the emails: saved, changed and removed through the service,
audited, refused with the field named; and the sample that previews every topic."""

import pytest
import time_machine

from governance.models import AuditEvent, EmailTemplate
from governance.notifications import TOPICS, render_email
from governance.notifications.samples import (
    SAMPLES,
    email_preview,
    file_email_preview,
    file_template_sources,
)
from governance.services.email_templates import email_template_delete, email_template_save
from governance.services.errors import Duplicate, InvalidInput, NotFound
from tests.factories import submit_request

VERSION = {"topic": "approval_needed", "language": "",
           "subject": "Please decide: {{ request.access_package }}",
           "text_body": "{{ request.requestor }} waits for you: {{ approval_url }}",
           "html_body": ""}


def save(actor, **overrides) -> EmailTemplate:
    return email_template_save(actor=actor, **(VERSION | overrides))


def approval_email(world):
    stage = submit_request(world).stages.get(order=1)
    return render_email("approval_needed", {"request_id": stage.request_id,
                                            "stage_id": stage.pk}, world.approver)


def test_creating_a_version_saves_it_audits_it_and_emails_use_it(world):
    template = save(world.owner)
    stored = EmailTemplate.objects.get()
    assert (stored.pk, stored.topic, stored.language) == (template.pk, "approval_needed", "")
    assert stored.updated_by == world.owner and stored.updated_at is not None
    event = AuditEvent.objects.get(action="emailTemplate.created")
    assert (event.actor, event.object_id, event.before) == (world.owner, str(template.pk), None)
    assert event.after["subject"] == VERSION["subject"]
    email = approval_email(world)
    assert email.subject == "Please decide: Falcon collaboration"
    assert email.text.startswith("Requester waits for you: http")
    # A blank HTML body puts the text inside the standard layout.
    assert "Requester waits for you" in email.html and "<!doctype html>" in email.html


def test_changing_a_version_audits_before_and_after(world):
    template = save(world.owner)
    changed = save(world.approver, template_id=template.pk, language="de",
                   subject="Bitte entscheiden: {{ request.access_package }}")
    assert changed.pk == template.pk
    stored = EmailTemplate.objects.get()
    assert (stored.language, stored.updated_by) == ("de", world.approver)
    event = AuditEvent.objects.get(action="emailTemplate.changed")
    assert event.actor == world.approver
    assert (event.before["language"], event.after["language"]) == ("", "de")
    assert event.after["subject"].startswith("Bitte entscheiden")


def test_saving_without_a_change_records_nothing(world):
    template = save(world.owner)
    save(world.approver, template_id=template.pk)
    assert not AuditEvent.objects.filter(action="emailTemplate.changed").exists()
    assert EmailTemplate.objects.get().updated_by == world.owner


def test_text_areas_line_ends_and_subject_spaces_are_normalized(world):
    template = save(world.owner, subject="  Please   decide ", text_body="One\r\nTwo\r\n",
                    html_body="  \r\n ")
    assert (template.subject, template.text_body, template.html_body) == (
        "Please decide", "One\nTwo\n", "")


def test_deleting_a_version_brings_back_the_file_template(world):
    template = save(world.owner)
    email_template_delete(actor=world.owner, template_id=template.pk)
    assert not EmailTemplate.objects.exists()
    event = AuditEvent.objects.get(action="emailTemplate.deleted")
    assert (event.actor, event.object_id) == (world.owner, str(template.pk))
    assert event.before["subject"] == VERSION["subject"] and event.after is None
    assert approval_email(world).subject == "Approval needed: Falcon collaboration for Requester"


def test_deleting_a_removed_version_is_refused(world, assert_refused):
    template = save(world.owner)
    email_template_delete(actor=world.owner, template_id=template.pk)
    assert_refused(lambda: email_template_delete(actor=world.owner, template_id=template.pk),
                   NotFound, "notFound", "no longer exists")


@pytest.mark.parametrize(("field", "source", "django_says"), [
    ("subject", "Decide {% if request %}", "Unclosed tag on line 1: 'if'"),
    ("text_body", "{{ request|no_such_filter }}", "Invalid filter: 'no_such_filter'"),
    ("html_body", "{% endblock %}", "Invalid block tag on line 1: 'endblock'"),
])
def test_a_part_that_does_not_compile_is_refused_naming_the_field(world, field, source,
                                                                  django_says):
    with pytest.raises(InvalidInput) as refused:
        save(world.owner, **{field: source})
    assert refused.value.field == field and refused.value.code == "invalidTemplate"
    assert "is not a valid template" in refused.value.message
    assert django_says in refused.value.message
    assert not EmailTemplate.objects.exists() and not AuditEvent.objects.filter(
        action__startswith="emailTemplate").exists()


def test_a_change_that_does_not_compile_leaves_the_version_as_it_was(world):
    template = save(world.owner)
    with pytest.raises(InvalidInput):
        save(world.owner, template_id=template.pk, text_body="{% for %}")
    assert EmailTemplate.objects.get().text_body == VERSION["text_body"]
    assert not AuditEvent.objects.filter(action="emailTemplate.changed").exists()


def test_a_second_version_for_the_same_topic_and_language_is_refused(world, assert_refused):
    save(world.owner)
    other = save(world.owner, language="fr")
    assert_refused(lambda: save(world.owner), Duplicate, "duplicateEmailTemplate",
                   "approval_needed", "all languages")
    assert_refused(lambda: save(world.owner, template_id=other.pk), Duplicate,
                   "duplicateEmailTemplate", "all languages")
    assert list(EmailTemplate.objects.values_list("language", flat=True)) == ["", "fr"]


@pytest.mark.parametrize(("overrides", "field", "words"), [
    ({"topic": "party_invitation"}, "topic", "“party_invitation” is not an email topic"),
    ({"language": "xx"}, "language", "“xx” is not one of the portal's languages"),
    ({"subject": "   "}, "subject", "subject cannot be empty"),
    ({"subject": "x" * 301}, "subject", "at most 300 characters"),
    ({"text_body": "\n \n"}, "text_body", "text body cannot be empty"),
])
def test_invalid_input_is_refused_naming_the_field(world, assert_refused, overrides, field,
                                                    words):
    refusal = assert_refused(lambda: save(world.owner, **overrides), InvalidInput,
                             "invalidInput", words)
    assert refusal.field == field
    assert not EmailTemplate.objects.exists()


# The sample tests have no database: pytest-django refuses any query they would make.
def test_every_topic_has_a_sample_and_its_file_templates_preview_without_the_database():
    assert SAMPLES.keys() == TOPICS.keys()
    emails = {topic: file_email_preview(topic) for topic in TOPICS}
    for topic, email in emails.items():
        assert email.subject and email.text.strip() and "<html" in email.html, topic
    assert emails["approval_needed"].subject == "Approval needed: Project Falcon for Ada Lovelace"
    assert "Contoso" in emails["approval_needed"].text
    assert "/approvals/link/" in emails["approval_reminder"].text
    assert "Alan Turing approved stage 1" in emails["approval_decided"].text
    assert "/extend/" in emails["access_expiring"].text
    assert "ends in 14 days" in emails["access_expiring"].subject
    assert "will be deleted on" in emails["guest_blocked"].text


def test_an_unsaved_version_previews_with_the_sample():
    email = email_preview("request_denied", "de", "Abgelehnt: {{ request.access_package }}",
                          "Grund: {{ justification }}", "<p>{{ recipient }}: {{ text_body }}</p>")
    assert email.subject == "Abgelehnt: Project Falcon"
    assert email.text == "Grund: The Falcon project is staffed until summer."
    assert email.html == "<p>Ada Lovelace: Grund: The Falcon project is staffed until summer.</p>"


@pytest.mark.parametrize(("text_body", "words"), [
    ('{% include "emails/no_such_fragment.txt" %}', "“emails/no_such_fragment.txt” does not exist"),
    # Emails include only their own fragments: the portal's other templates are not there.
    ('{% include "admin/base.html" %}', "“admin/base.html” does not exist"),
])
def test_a_version_that_fails_on_the_sample_is_refused_in_words(text_body, words):
    with pytest.raises(InvalidInput) as refused:
        email_preview("approval_needed", "", "Subject", text_body, "")
    assert words in refused.value.message and refused.value.message.endswith(".")


@time_machine.travel("2031-03-04 10:00:05Z", tick=False)
def test_a_new_version_starts_from_the_file_templates():
    sources = file_template_sources("approval_needed")
    assert sources["subject"] == ("Approval needed: {{ request.access_package }} for "
                                  "{{ request.target }}")
    assert '{% include "emails/fragment_approval_link.txt" %}' in sources["text_body"]
    assert "emails/fragment_approval.html" in sources["html_body"]
    # A topic without an HTML file: blank, the text inside the standard layout.
    assert file_template_sources("request_approved")["html_body"] == ""
    # The standard text, saved as it is, previews like the files.
    assert email_preview("approval_needed", "", **sources) == file_email_preview(
        "approval_needed")
