"""The approval emails tell the approver who asks: the requestor's job title, department and
manager, in the text and the HTML, in English and in French; only what is set. Rendered from
the outbox message the real services leave (the scenarios of test_email_languages), and from
the administrators' sample."""

import re
from html import unescape

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from governance.models import OutboxMessage
from governance.notifications import render_email
from governance.notifications.samples import file_email_preview
from governance.services.people import person_update
from tests.factories import UserFactory, member_package, submit_request
from tests.unit.test_email_languages import SCENARIOS

REQUEST_TOPICS = ["approval_needed", "approval_reminder", "approval_escalated"]
# language: (job title, department, manager) as the emails label them
LABELS = {"en": ("Job title", "Department", "Manager"),
          "fr": ("Fonction", "Service", "Responsable")}


@pytest.fixture
def admin(db):
    return UserFactory(email="people.admin@access.example", is_superuser=True)


def _message(world, topic: str) -> OutboxMessage:
    SCENARIOS[topic](world)
    return OutboxMessage.objects.filter(topic=topic).order_by("id").first()


def _render(message: OutboxMessage, language: str):
    recipient = message.recipient
    recipient.preferred_language = language
    recipient.save(update_fields=["preferred_language"])
    return render_email(message.topic, message.payload, recipient)


def _html_rows(html: str) -> dict[str, str]:
    return {unescape(head): unescape(value) for head, value in
            re.findall(r"<tr><th[^>]*>(.*?)</th><td>(.*?)</td></tr>", html)}


@pytest.mark.parametrize("language", sorted(LABELS))
@pytest.mark.parametrize("topic", REQUEST_TOPICS)
def test_the_approver_reads_the_requestors_title_department_and_manager(world, admin, topic,
                                                                       language):
    manager = UserFactory(email="charles@contoso.example", display_name="Charles Babbage")
    person_update(actor=admin, user_id=world.requester.pk,
                  changes={"job_title": "Research engineer", "department": "Analytical engines",
                           "manager_id": manager.pk})
    email = _render(_message(world, topic), language)
    title, department, boss = LABELS[language]
    colon = " :" if language == "fr" else ":"
    requested_by = "Demandé par" if language == "fr" else "Requested by"
    lines = email.text.splitlines()
    start = next(n for n, line in enumerate(lines) if line.startswith(requested_by))
    assert lines[start + 1:start + 4] == [f"{title}{colon} Research engineer",
                                          f"{department}{colon} Analytical engines",
                                          f"{boss}{colon} Charles Babbage"]
    rows = _html_rows(email.html)
    assert (rows[title], rows[department], rows[boss]) == (
        "Research engineer", "Analytical engines", "Charles Babbage")


@pytest.mark.parametrize("language", sorted(LABELS))
def test_only_what_is_set_is_written(world, admin, language):
    person_update(actor=admin, user_id=world.requester.pk, changes={"job_title": "Auditor"})
    email = _render(_message(world, "approval_needed"), language)
    title, department, boss = LABELS[language]
    assert f"{title}" in email.text and "Auditor" in email.text
    for absent in (department, boss):
        assert absent not in email.text and absent not in _html_rows(email.html)


def test_a_requestor_with_nothing_set_gets_the_email_as_before(world):
    email = _render(_message(world, "approval_needed"), "en")
    for label in LABELS["en"]:
        assert f"{label}:" not in email.text and label not in _html_rows(email.html)
    # No empty line left where the facts would be.
    assert "\n\nOrganization:" not in email.text


def test_on_behalf_the_facts_of_each_person_follow_their_name(world, admin):
    package = member_package(world)
    package.policies.update(enable_on_behalf_of_direct_reports=True)
    report = UserFactory(email="report@access.example", display_name="Rita Report")
    person_update(actor=admin, user_id=world.member.pk, changes={"department": "Finance"})
    person_update(actor=admin, user_id=report.pk,
                  changes={"job_title": "Analyst", "manager_id": world.member.pk})
    submit_request(world, requestor=world.member, target=report,
                   access_package_id=package.pk, answers={})
    email = _render(OutboxMessage.objects.get(topic="approval_needed"), "en")
    assert ("Requested by: Member <member@access.example>\nDepartment: Finance\n"
            "For: Rita Report <report@access.example>\nJob title: Analyst\nManager: Member\n"
            ) in email.text


def test_the_managers_name_costs_no_query_of_its_own(world, admin):
    message = _message(world, "approval_needed")
    _render(message, "en")
    with CaptureQueriesContext(connection) as without:
        render_email(message.topic, message.payload, message.recipient)
    manager = UserFactory(email="charles@contoso.example", display_name="Charles Babbage")
    person_update(actor=admin, user_id=world.requester.pk, changes={"manager_id": manager.pk})
    with CaptureQueriesContext(connection) as with_manager:
        email = render_email(message.topic, message.payload, message.recipient)
    assert "Manager: Charles Babbage" in email.text
    assert len(with_manager) == len(without)


def test_the_administrators_sample_shows_them(db):
    email = file_email_preview("approval_needed", "en")
    assert "Job title: Research engineer\nDepartment: Analytical engines\n" \
           "Manager: Charles Babbage" in email.text
    assert _html_rows(file_email_preview("approval_needed", "fr").html)["Fonction"] == \
        "Research engineer"
