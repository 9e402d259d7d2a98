"""Rendering stored outbox emails: templates/emails/<topic>.{subject,txt,html}."""

from django.conf import settings
from django.template.loader import render_to_string

from governance.models import ApprovalStage, Assignment, AssignmentRequest, User

TOPICS = {
    "approval_needed", "approval_escalated", "request_approved", "request_denied",
    "request_expired", "access_delivered", "access_expiring", "access_ended", "guest_blocked",
}


def _context(payload: dict) -> dict:
    context = {"site_url": settings.SITE_URL, **payload}
    if "request_id" in payload:
        context["request"] = AssignmentRequest.objects.select_related(
            "access_package", "requestor", "target").get(pk=payload["request_id"])
    if "stage_id" in payload:
        context["stage"] = ApprovalStage.objects.get(pk=payload["stage_id"])
    if "assignment_id" in payload:
        context["assignment"] = Assignment.objects.select_related(
            "access_package", "target").get(pk=payload["assignment_id"])
    if "user_id" in payload:
        context["user"] = User.objects.get(pk=payload["user_id"])
    return context


def render_email(topic: str, payload: dict) -> tuple[str, str, str]:
    if topic not in TOPICS:
        raise ValueError(f"Unknown email topic {topic!r}")
    context = _context(payload)
    subject = " ".join(render_to_string(f"emails/{topic}.subject", context).split())
    text = render_to_string(f"emails/{topic}.txt", context)
    html = render_to_string(f"emails/{topic}.html", context)
    return subject, text, html
