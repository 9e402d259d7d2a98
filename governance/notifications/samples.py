"""Sample emails for administrators: every topic rendered with made-up, unsaved rows.

The sample context has the same names as the one `email_context` builds for a real email of
the topic (a request, its stage, an assignment, links...), made plain the same way
(`documented_context`), so a template that previews well also sends well. Nothing here reads
or writes the database.
"""

from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.template import Template, TemplateDoesNotExist
from django.urls import reverse

from governance import clock
from governance.choices import (
    AccountState,
    AssignmentState,
    Decision,
    EndReason,
    RequestState,
    RequestType,
    ReviewExpirationBehavior,
    ReviewState,
    StageState,
    UserType,
)
from governance.models import (
    AccessPackage,
    AccessReview,
    ApprovalDecision,
    ApprovalStage,
    Assignment,
    AssignmentRequest,
    Catalog,
    ConnectedOrganization,
    User,
)
from governance.notifications import (
    APPROVAL_LINK_TOPICS,
    PARTS,
    TEXT_IN_LAYOUT,
    TOPIC_VARIABLES,
    TOPICS,
    RenderedEmail,
    documented_context,
    file_template,
    override_templates,
    render_with,
    review_admin_url,
)
from governance.notifications.sandbox import Record
from governance.services.email_templates import email_parts_check
from governance.services.errors import InvalidInput


def _url(name: str, *args) -> str:
    return f"{settings.SITE_URL}{reverse(name, args=args)}"


class _Sample:
    """One made-up world per preview: Ada Lovelace of Contoso asks for Project Falcon."""

    def __init__(self, language: str):
        now = clock.now().replace(second=0, microsecond=0)
        self.now = now
        self.organization = ConnectedOrganization(display_name="Contoso")
        self.requestor = User(email="ada.lovelace@contoso.example", display_name="Ada Lovelace",
                              user_type=UserType.GUEST, preferred_language=language,
                              connected_organization=self.organization,
                              job_title="Research engineer", department="Analytical engines",
                              manager=User(email="charles.babbage@contoso.example",
                                           display_name="Charles Babbage"))
        self.approver = User(email="grace.hopper@access.example", display_name="Grace Hopper",
                             preferred_language=language)
        self.other_approver = User(email="alan.turing@access.example",
                                   display_name="Alan Turing")
        self.package = AccessPackage(
            catalog=Catalog(display_name="Projects"), display_name="Project Falcon",
            description="Files, chat and reports of the Falcon project.")
        self.request = AssignmentRequest(
            request_type=RequestType.USER_ADD, state=RequestState.PENDING_APPROVAL,
            status="Pending approval, stage 1 of 2", access_package=self.package,
            requestor=self.requestor, target=self.requestor,
            justification="Joining the Falcon project for the spring release.",
            created_at=now - timedelta(days=1))
        self.stage = ApprovalStage(request=self.request, order=1, state=StageState.IN_PROGRESS,
                                   started_at=now - timedelta(days=1),
                                   due_at=now + timedelta(days=13))
        self.assignment = Assignment(
            access_package=self.package, target=self.requestor, state=AssignmentState.DELIVERED,
            status="Delivered", start_at=now - timedelta(days=76),
            expires_at=now + timedelta(days=14), created_at=now - timedelta(days=76))
        self.review = AccessReview(
            access_package=self.package, start_at=now - timedelta(days=7),
            end_at=now + timedelta(days=7), created_at=now - timedelta(days=7),
            settings={"isEnabled": True, "isSelfReview": False,
                      "expirationBehavior": ReviewExpirationBehavior.KEEP_ACCESS})

    def base(self, topic: str, recipient: User) -> dict:
        return {"site_url": settings.SITE_URL, "recipient": recipient, "topic": topic,
                "requests_url": _url("request_history"), "approvals_url": _url("approval_list")}

    def for_approver(self, topic: str) -> dict:
        context = {**self.base(topic, self.approver), "request": self.request,
                   "stage": self.stage}
        if topic in APPROVAL_LINK_TOPICS:
            context["approval_url"] = _url("approval_link", "sample-link-for-the-preview")
        return context

    def for_requestor(self, topic: str) -> dict:
        return {**self.base(topic, self.requestor), "request": self.request}

    def for_holder(self, topic: str) -> dict:
        return {**self.base(topic, self.requestor), "assignment": self.assignment,
                "extend_url": _url("access_extend", 0)}

    def for_reviewer(self, topic: str) -> dict:
        return {**self.base(topic, self.approver), "review": self.review,
                "review_url": _url("review_detail", 0), "reviews_url": _url("reviews"),
                "results_url": review_admin_url(0),
                "expiration_behavior": self.review.settings["expirationBehavior"],
                "to_review": 12, "self_review": False}


def _approval_escalated(sample: _Sample) -> dict:
    sample.stage.escalated_at = sample.now
    return sample.for_approver("approval_escalated")


def _approval_decided(sample: _Sample) -> dict:
    sample.stage.state, sample.stage.completed_at = StageState.APPROVED, sample.now
    ApprovalDecision(stage=sample.stage, approver=sample.other_approver,
                     result=Decision.APPROVE, justification="Known partner.",
                     decided_at=sample.now - timedelta(hours=1))
    return sample.for_approver("approval_decided")


def _approval_expired(sample: _Sample) -> dict:
    sample.stage.state, sample.stage.completed_at = StageState.TIMED_OUT, sample.now
    sample.stage.due_at = sample.now - timedelta(minutes=1)
    sample.request.state, sample.request.status = RequestState.DENIED, "Expired"
    return sample.for_approver("approval_expired")


def _approval_canceled(sample: _Sample) -> dict:
    sample.request.state, sample.request.status = RequestState.CANCELED, "Canceled"
    # The usual case, the requestor canceling; a leaver's name here shows the other wording.
    return {**sample.for_approver("approval_canceled"), "departed": ""}


def _request_approved(sample: _Sample) -> dict:
    sample.request.state, sample.request.status = RequestState.DELIVERING, "Delivering"
    return sample.for_requestor("request_approved")


def _request_denied(sample: _Sample) -> dict:
    sample.request.state, sample.request.status = RequestState.DENIED, "Denied"
    return {**sample.for_requestor("request_denied"),
            "justification": "The Falcon project is staffed until summer."}


def _request_expired(sample: _Sample) -> dict:
    sample.request.state, sample.request.status = RequestState.DENIED, "Expired"
    return sample.for_requestor("request_expired")


def _access_expiring(sample: _Sample) -> dict:
    return {**sample.for_holder("access_expiring"), "days": 14}


def _access_ended(sample: _Sample) -> dict:
    assignment = sample.assignment
    assignment.state, assignment.status = AssignmentState.EXPIRED, EndReason.EXPIRED.label
    assignment.expires_at = assignment.ended_at = sample.now
    assignment.end_reason = EndReason.EXPIRED
    return sample.for_holder("access_ended")


def _guest_blocked(sample: _Sample) -> dict:
    user = sample.requestor
    user.account_state, user.blocked_at = AccountState.BLOCKED, sample.now
    user.delete_due_at = sample.now + timedelta(days=30)
    return {**sample.base("guest_blocked", user), "user": user}


def _review_results(sample: _Sample) -> dict:
    review = sample.review
    review.state, review.completed_at = ReviewState.APPLIED, sample.now
    review.applied_at = sample.now
    review.start_at, review.end_at = sample.now - timedelta(days=14), sample.now
    counts = {"total": 40, "approved": 31, "denied": 3, "dontKnow": 1, "notReviewed": 5,
              "kept": 35, "removed": 4, "alreadyEnded": 1}
    return {**sample.for_reviewer("review_results"), "recipient": sample.other_approver,
            "counts": counts, "applied": True}


SAMPLES: dict[str, Callable[[_Sample], dict]] = {
    "approval_needed": lambda sample: sample.for_approver("approval_needed"),
    "approval_reminder": lambda sample: sample.for_approver("approval_reminder"),
    "approval_escalated": _approval_escalated,
    "approval_decided": _approval_decided,
    "approval_expired": _approval_expired,
    "approval_canceled": _approval_canceled,
    "request_approved": _request_approved,
    "request_denied": _request_denied,
    "request_expired": _request_expired,
    "access_delivered": lambda sample: sample.for_holder("access_delivered"),
    "access_expiring": _access_expiring,
    "access_ended": _access_ended,
    "guest_blocked": _guest_blocked,
    "review_started": lambda sample: sample.for_reviewer("review_started"),
    "review_reminder": lambda sample: sample.for_reviewer("review_reminder"),
    "review_results": _review_results,
}


def _language(language: str) -> str:
    return language if language in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE


def sample_context(topic: str, language: str = "") -> dict:
    """What a template of `topic` sees, made up from fresh unsaved rows on every call."""
    if topic not in SAMPLES:
        raise InvalidInput(f"“{topic}” is not an email topic; choose one of the list.",
                           field="topic")
    return documented_context(topic, SAMPLES[topic](_Sample(_language(language))))


def sample_variables(topic: str) -> list[str]:
    """The names a template of `topic` can use, for the administrators' help."""
    return sorted(TOPIC_VARIABLES[topic])


def _record_fields(path: str, value, found: dict[str, list[str]]) -> None:
    if isinstance(value, Record):
        found.setdefault(path, sorted(value))
        for name, item in value.items():
            _record_fields(f"{path}.{name}", item, found)


def record_fields() -> list[tuple[str, list[str]]]:
    """What each name holding a row has (`request`: access_package, requestor…), for the
    administrators' help: taken from the samples, so it lists what templates really get."""
    found: dict[str, list[str]] = {}
    for topic in TOPICS:
        for name, value in sample_context(topic).items():
            _record_fields(name, value, found)
    return sorted(found.items())


def _render(topic: str, language: str, templates: list[Template]) -> RenderedEmail:
    language = _language(language)
    context = sample_context(topic, language)
    try:
        return render_with(templates, context, language)
    except TemplateDoesNotExist as error:
        reason = f"the template “{error}” does not exist"
    except Exception as error:  # an administrator's template can fail in many ways
        reason = str(error).strip().rstrip(".") or type(error).__name__
    raise InvalidInput(f"The sample email could not be rendered: {reason}.",
                       code="invalidTemplate")


def email_preview(topic: str, language: str, subject: str, text_body: str,
                  html_body: str) -> RenderedEmail:
    """An administrator's unsaved version of `topic`, rendered with the sample.

    Raises InvalidInput naming the part that does not compile, or (no field) the error
    that rendering met.
    """
    parts = email_parts_check(subject=subject, text_body=text_body, html_body=html_body)
    return _render(topic, language,
                   override_templates(parts["subject"], parts["text_body"], parts["html_body"]))


def file_email_preview(topic: str, language: str = "") -> RenderedEmail:
    """The standard email of `topic` (the files under templates/emails/), with the sample."""
    language = _language(language)
    return _render(topic, language,
                   [file_template(topic, language, part) for part in PARTS])


def file_template_sources(topic: str, language: str = "") -> dict[str, str]:
    """The files' text of `topic`, for an administrator to start a version from.

    The HTML body is blank when the topic has no HTML file of its own (its text goes inside
    the standard layout), as it would be for a version.
    """
    if topic not in TOPICS:
        raise InvalidInput(f"“{topic}” is not an email topic; choose one of the list.",
                           field="topic")
    language = _language(language)
    subject, text_body, html_body = (file_template(topic, language, part).source
                                     for part in PARTS)
    return {"subject": subject.strip(), "text_body": text_body,
            "html_body": "" if html_body == TEXT_IN_LAYOUT else html_body}
