"""Every email topic in English and in French, rendered from the rows the services leave.

Each scenario drives the real services (submit, decide, cancel, the sweeps under a moved
clock) until the outbox holds a message of the topic; that message's payload is then
rendered for its recipient speaking English, then French.
"""

from datetime import timedelta
from html import unescape

import pytest
import time_machine
from django.conf import settings
from django.utils import translation
from django.utils.formats import date_format
from django.utils.timezone import localtime

from governance import clock
from governance.choices import ApproverKind, Decision, ReviewerType, SubjectSetType
from governance.models import (
    AccessReview,
    ApprovalStage,
    ApproverSet,
    Assignment,
    EmailTemplate,
    OutboxMessage,
    User,
)
from governance.models.review_settings import Reviewer, ReviewSettings
from governance.notifications import (
    APPROVAL_LINK_TOPICS,
    TOPICS,
    render_email,
    review_admin_url,
)
from governance.security.approval_links import approval_link_url
from governance.services.approvals import (
    stage_decide,
    stages_escalate_due,
    stages_remind_due,
    stages_time_out_due,
)
from governance.services.expiry import assignments_expire_due, assignments_warn_expiring
from governance.services.requests import request_cancel
from governance.services.review_start import review_start
from governance.services.reviews import reviews_end_due, reviews_remind_due
from tests.factories import approve_all, delivered_assignment, submit_request

# Scenarios: drive the services until the outbox holds a message of the topic.


def _first_stage(request) -> ApprovalStage:
    return request.stages.get(order=1)


def _approval_needed(world):
    submit_request(world)


def _approval_reminder(world):
    stage = _first_stage(submit_request(world))
    with time_machine.travel(stage.next_reminder_at + timedelta(minutes=1), tick=False):
        assert stages_remind_due() == 1


def _approval_escalated(world):
    setting = world.policy.stages.get(order=1)
    setting.is_escalation_enabled, setting.duration_before_escalation_days = True, 3
    setting.save(update_fields=["is_escalation_enabled", "duration_before_escalation_days"])
    ApproverSet.objects.create(stage=setting, kind=ApproverKind.ESCALATION,
                               subject_type=SubjectSetType.SINGLE_USER, user=world.owner)
    stage = _first_stage(submit_request(world))
    with time_machine.travel(stage.escalation_due_at + timedelta(minutes=1), tick=False):
        assert stages_escalate_due() == 1


def _approval_decided(world):
    # A second approver on stage 1 is told when the first one decides.
    ApproverSet.objects.create(stage=world.policy.stages.get(order=1), kind=ApproverKind.PRIMARY,
                               subject_type=SubjectSetType.SINGLE_USER, user=world.member)
    stage = _first_stage(submit_request(world))
    stage_decide(stage_id=stage.pk, approver=world.approver, decision=Decision.APPROVE,
                 justification="Known partner")


def _timed_out(world):
    stage = _first_stage(submit_request(world))
    with time_machine.travel(stage.due_at + timedelta(minutes=1), tick=False):
        assert stages_time_out_due() == 1


def _approval_canceled(world):
    request = submit_request(world)
    request_cancel(actor=world.requester, request_id=request.pk)


def _request_approved(world):
    approve_all(submit_request(world), world.approver, world.second_approver)


def _request_denied(world):
    stage = _first_stage(submit_request(world))
    stage_decide(stage_id=stage.pk, approver=world.approver, decision=Decision.DENY,
                 justification="Not on the project")


def _access_delivered(world):
    delivered_assignment(world)


def _access_expiring(world):
    assignment = delivered_assignment(world)
    with time_machine.travel(assignment.expires_at - timedelta(days=13), tick=False):
        assert assignments_warn_expiring() == 1


def _access_ended(world):
    # Also blocks the guest (the tenant's default lifecycle is block, then delete).
    assignment = delivered_assignment(world)
    with time_machine.travel(assignment.expires_at + timedelta(minutes=1), tick=False):
        assert assignments_expire_due() == 1


def _review_started(world) -> AccessReview:
    # The approver reviews the requester's access to the world's package.
    world.policy.review_settings = ReviewSettings(
        is_enabled=True, start_at=clock.now(),
        primary=(Reviewer(ReviewerType.SINGLE_USER, user_id=world.approver.pk),)).to_graph()
    world.policy.save(update_fields=["review_settings"])
    delivered_assignment(world)
    return review_start(policy_id=world.policy.pk, start_at=clock.now())


def _review_reminder(world):
    review = _review_started(world)
    with time_machine.travel(review.start_at + (review.end_at - review.start_at) / 2,
                             tick=False):
        assert reviews_remind_due() == 1


def _review_results(world):
    # The owners of the catalog get the results.
    review = _review_started(world)
    with time_machine.travel(review.end_at, tick=False):
        assert reviews_end_due() == 1


SCENARIOS = {
    "approval_needed": _approval_needed,
    "approval_reminder": _approval_reminder,
    "approval_escalated": _approval_escalated,
    "approval_decided": _approval_decided,
    "approval_expired": _timed_out,
    "approval_canceled": _approval_canceled,
    "request_approved": _request_approved,
    "request_denied": _request_denied,
    "request_expired": _timed_out,
    "access_delivered": _access_delivered,
    "access_expiring": _access_expiring,
    "access_ended": _access_ended,
    "guest_blocked": _access_ended,
    "review_started": _review_started,
    "review_reminder": _review_reminder,
    "review_results": _review_results,
}

# topic: (how the English subject starts, how the French one starts, a French phrase of the
# text body)
WORDING = {
    "approval_needed": ("Approval needed:", "Approbation requise :", "attend votre décision"),
    "approval_reminder": ("Reminder: approval needed by", "Rappel : approbation requise",
                          "attend toujours une décision"),
    "approval_escalated": ("Approval forwarded to you:", "Approbation qui vous est transférée :",
                           "la première décision l'emporte"),
    "approval_decided": ("Already decided:", "Demande déjà traitée :", "a approuvé l'étape 1"),
    "approval_expired": ("Request expired:", "Demande expirée :", "Personne ne s'est prononcé"),
    "approval_canceled": ("Request canceled:", "Demande annulée :", "a annulé la demande"),
    "request_approved": ("Approved:", "Demande approuvée :", "a été approuvée"),
    "request_denied": ("Denied:", "Demande refusée :", "Motif : Not on the project"),
    "request_expired": ("Request expired:", "Demande expirée :", "personne ne s'est prononcé"),
    "access_delivered": ("Access delivered:", "Accès accordé :", "Vous avez désormais accès"),
    "access_expiring": ("Your access to", "Votre accès à", "prolongez-le"),
    "access_ended": ("Access ended:", "Accès terminé :", "(arrivé à expiration)"),
    "guest_blocked": ("Your sign-in is blocked", "Votre connexion est bloquée",
                      "Votre compte sera supprimé le"),
    "review_started": ("Access review:", "Révision d'accès :", "Ouvrir la révision"),
    "review_reminder": ("Reminder: access review of", "Rappel : révision d'accès de",
                        "attend toujours votre décision"),
    "review_results": ("Access review results:", "Résultats de la révision d'accès :",
                       "et ses résultats ont été appliqués"),
}


def _url(path: str) -> str:
    return f"{settings.SITE_URL}{path}"


def _link(topic: str, message: OutboxMessage) -> str:
    """The link the email of `topic` must carry."""
    payload = message.payload
    if topic in APPROVAL_LINK_TOPICS:
        stage = ApprovalStage.objects.get(pk=payload["stage_id"])
        return approval_link_url(stage, message.recipient_id)
    if topic == "access_expiring":
        return _url(f"/access/{payload['assignment_id']}/extend/")
    if topic == "review_results":
        return review_admin_url(payload["review_id"])
    if topic.startswith("review_"):
        return _url(f"/reviews/{payload['review_id']}/")
    if topic.startswith("approval_"):
        return _url("/approvals/")
    if topic.startswith("request_"):
        return _url("/requests/")
    return _url("/")


def _date(topic: str, message: OutboxMessage):
    """(moment, format) of the date the email of `topic` shows, or None."""
    payload = message.payload
    if topic == "approval_decided":
        stage = ApprovalStage.objects.select_related("decision").get(pk=payload["stage_id"])
        return stage.decision.decided_at, "DATETIME_FORMAT"
    if "stage_id" in payload and topic != "approval_canceled":
        return ApprovalStage.objects.get(pk=payload["stage_id"]).due_at, "DATETIME_FORMAT"
    if topic in ("access_delivered", "access_expiring"):
        return Assignment.objects.get(pk=payload["assignment_id"]).expires_at, "DATETIME_FORMAT"
    if topic == "guest_blocked":
        return User.objects.get(pk=payload["user_id"]).delete_due_at, "DATE_FORMAT"
    if topic.startswith("review_"):
        review = AccessReview.objects.get(pk=payload["review_id"])
        return review.end_at, "DATE_FORMAT" if topic == "review_results" else "DATETIME_FORMAT"
    return None


def _message(world, topic: str) -> OutboxMessage:
    SCENARIOS[topic](world)
    message = OutboxMessage.objects.filter(topic=topic).order_by("id").first()
    assert message is not None, f"the scenario queued no {topic} email"
    assert message.recipient is not None
    return message


def _render(topic: str, message: OutboxMessage, language: str):
    recipient = message.recipient
    recipient.preferred_language = language
    recipient.save(update_fields=["preferred_language"])
    return render_email(topic, message.payload, recipient)


def _assert_rendered(email) -> None:
    assert email.subject.strip() and email.text.strip() and email.html.strip()
    assert "\n" not in email.subject
    for part in (email.subject, email.text, email.html):
        for leftover in ("{{", "}}", "{%", "%}", "{#"):
            assert leftover not in part, f"{leftover!r} left in {part!r}"


def test_every_topic_has_a_scenario_and_wording():
    assert set(SCENARIOS) == set(TOPICS) == set(WORDING)


@pytest.mark.parametrize("topic", sorted(TOPICS))
def test_each_email_in_english_and_in_french(world, topic):
    message = _message(world, topic)
    english = _render(topic, message, "en")
    french = _render(topic, message, "fr")
    english_start, french_start, french_phrase = WORDING[topic]

    for email in (english, french):
        _assert_rendered(email)
    assert english.subject.startswith(english_start), english.subject
    assert french.subject.startswith(french_start), french.subject
    assert french_phrase in french.text and french_phrase in unescape(french.html)
    assert french_phrase not in english.text
    assert (french.subject, french.text, french.html) != (english.subject, english.text,
                                                          english.html)
    assert french.subject != english.subject and french.text != english.text
    assert '<html lang="fr">' in french.html and '<html lang="en">' in english.html
    assert "My Access ·" in french.html  # the shared layout's footer

    link = _link(topic, message)
    for email in (english, french):
        assert link in email.text and f'href="{link}' in email.html
    if topic in APPROVAL_LINK_TOPICS:
        assert "/approvals/link/" in french.text and "/approvals/link/" in french.html
    if topic == "access_expiring":
        assert f"/access/{message.payload['assignment_id']}/extend/" in french.text

    dated = _date(topic, message)
    if dated:
        moment, date_kind = dated
        assert moment is not None
        for language, email in (("en", english), ("fr", french)):
            with translation.override(language):
                shown = date_format(localtime(moment), date_kind)
            assert shown in email.text, f"{shown!r} not in the {language} text"
        with translation.override("fr"):
            month = date_format(localtime(moment), "F")
        assert month in french.text  # the month in French ("novembre"...)


def test_approval_emails_in_french_carry_the_request_facts_and_the_button(world):
    message = _message(world, "approval_needed")
    french = _render("approval_needed", message, "fr")

    for label in ("Package d'accès : Falcon collaboration", "Demandé par : Requester",
                  "Organisation : Contoso", "Justification : Joining the Falcon project",
                  "Étape 1 ; à décider avant le"):
        assert label in french.text, label
    html = unescape(french.html)
    for label in ("Package d'accès", "Demandé par", "Organisation", "Justification",
                  "À décider avant le", "(étape 1)", "Examiner la demande",
                  "Une demande attend votre décision."):
        assert label in html, label


@pytest.mark.parametrize("topic", sorted(TOPICS))
def test_a_recipient_speaking_a_language_without_files_gets_english(world, topic):
    message = _message(world, topic)
    english = _render(topic, message, "en")
    german = _render(topic, message, "de")
    english_start, french_start, french_phrase = WORDING[topic]

    _assert_rendered(german)
    assert german.subject.startswith(english_start), german.subject
    assert not german.subject.startswith(french_start)
    assert french_phrase not in german.text
    assert _link(topic, message) in german.text
    # English through and through: English dates, and the HTML says so.
    assert german == english
    assert '<html lang="en">' in german.html


def test_an_override_that_cannot_render_falls_back_to_the_standard_email(world, caplog):
    message = _message(world, "request_approved")
    EmailTemplate.objects.create(topic="request_approved", language="",
                                 subject="Approved", text_body='{% include "gone.txt" %}',
                                 updated_at=clock.now())
    rendered = _render("request_approved", message, "en")
    assert rendered.subject.startswith("Approved: Falcon collaboration")
    assert "Email template request_approved" in caplog.text
