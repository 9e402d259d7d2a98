"""Rendering stored outbox emails, in the recipient's language.

Each topic has templates/emails/<topic>.{subject,txt,html}; a language may have its own in
templates/emails/<language>/. An administrator's EmailTemplate row for the recipient's
language, else for all languages, wins over the files. Subjects and text bodies are
rendered without HTML escaping; HTML bodies with it.

Files and administrators' versions alike render in the locked-down engine of
`governance.notifications.sandbox`, with the topic's documented names only (TOPIC_VARIABLES), each
a plain value: a row becomes a Record of its documented facts, so that no template reaches
a password hash, a token's hash or a secret through it.
"""

import logging
from dataclasses import dataclass

from django.conf import settings
from django.template import Context, Template, TemplateDoesNotExist, TemplateSyntaxError
from django.urls import NoReverseMatch, reverse
from django.utils import translation

from governance.choices import ReviewDecisionValue
from governance.models import (
    AccessPackage,
    AccessReview,
    ApprovalDecision,
    ApprovalStage,
    Assignment,
    AssignmentRequest,
    EmailTemplate,
    User,
)
from governance.notifications.sandbox import Record, plain, sandbox_engine
from governance.security.approval_links import approval_link_url
from governance.selectors.reviews import reviewable_decisions

logger = logging.getLogger(__name__)

# topic: (who receives it, when), as shown to administrators who override a template.
TOPICS = {
    "approval_needed": ("Approvers", "A request waits for their decision (with their link)"),
    "approval_reminder": ("Approvers", "Reminder halfway to the deadline and a day before it"),
    "approval_escalated": ("Escalation approvers", "A stage was forwarded to them"),
    "approval_decided": ("Approvers", "Another approver decided the stage"),
    "approval_expired": ("Approvers", "Nobody decided before the deadline"),
    "approval_canceled": ("Approvers", "The requestor canceled the request"),
    "request_approved": ("Requestor", "The request was approved"),
    "request_denied": ("Requestor", "The request was denied"),
    "request_expired": ("Requestor", "Nobody decided before the deadline"),
    "access_delivered": ("Requestor", "The access was delivered"),
    "access_expiring": ("Requestor", "The access ends in 14 days, or in 1 day (with Extend)"),
    "access_ended": ("Requestor", "The access ended"),
    "guest_blocked": ("Guest", "Sign-in was blocked after the last access ended"),
    "review_started": ("Reviewers", "An access review started (with a link to it)"),
    "review_reminder": ("Reviewers", "Reminder at the review's mid-point, to those with "
                                     "people left to review"),
    "review_results": ("Catalog owners", "An access review ended: its results, applied or "
                                         "waiting to be applied"),
}
# Topics whose email carries the recipient's personal approval link.
APPROVAL_LINK_TOPICS = {"approval_needed", "approval_reminder", "approval_escalated"}
PARTS = ("subject", "txt", "html")

# The names each topic's templates can use, and nothing else: the admin lists them, the
# sample previews them, and a real email gets these when its payload has them.
_FOR_EVERYONE = ("site_url", "recipient", "topic", "requests_url", "approvals_url")
_FOR_APPROVERS = (*_FOR_EVERYONE, "request", "stage")
_WITH_APPROVAL_LINK = (*_FOR_APPROVERS, "approval_url")
_FOR_REQUESTORS = (*_FOR_EVERYONE, "request")
_FOR_HOLDERS = (*_FOR_EVERYONE, "assignment", "extend_url")
_FOR_REVIEWERS = (*_FOR_EVERYONE, "review", "review_url", "reviews_url", "results_url",
                  "expiration_behavior", "to_review", "self_review")
TOPIC_VARIABLES = {
    "approval_needed": _WITH_APPROVAL_LINK,
    "approval_reminder": _WITH_APPROVAL_LINK,
    "approval_escalated": _WITH_APPROVAL_LINK,
    "approval_decided": _FOR_APPROVERS,
    "approval_expired": _FOR_APPROVERS,
    # departed: who left, when the leaver's deactivation canceled the request.
    "approval_canceled": (*_FOR_APPROVERS, "departed"),
    "request_approved": _FOR_REQUESTORS,
    "request_denied": (*_FOR_REQUESTORS, "justification"),
    "request_expired": _FOR_REQUESTORS,
    "access_delivered": _FOR_HOLDERS,
    "access_expiring": (*_FOR_HOLDERS, "days"),
    "access_ended": _FOR_HOLDERS,
    "guest_blocked": (*_FOR_EVERYONE, "user"),
    "review_started": _FOR_REVIEWERS,
    "review_reminder": _FOR_REVIEWERS,
    "review_results": (*_FOR_REVIEWERS, "counts", "applied"),
}


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


def _url(name: str, *args) -> str:
    return f"{settings.SITE_URL}{reverse(name, args=args)}"


# What a template sees of each kind of row: documented facts, never the row itself.


def _named(row) -> Record | None:
    """A catalog or a connected organization: printed as, and having, its display name."""
    return None if row is None else Record(str(row), display_name=row.display_name)


def person_facts(user: User) -> Record:
    return Record(str(user), display_name=user.display_name, email=user.email,
                  user_type=user.user_type,
                  connected_organization=_named(user.connected_organization))


def requestor_facts(user: User) -> Record:
    """A request's requestor or target: the person, and what approvers weigh of them (their
    directory attributes and their manager's name; empty when not set). The manager is read
    through `user.manager`: the caller joins it (select_related)."""
    manager = user.manager
    return Record(str(user), **person_facts(user), job_title=user.job_title,
                  department=user.department,
                  manager=None if manager is None else Record(
                      str(manager), display_name=manager.display_name, email=manager.email))


def account_facts(user: User) -> Record:
    """A guest whose sign-in is blocked: the person, and when the account goes."""
    return Record(str(user), **person_facts(user), account_state=user.account_state,
                  blocked_at=user.blocked_at, delete_due_at=user.delete_due_at)


def package_facts(package: AccessPackage) -> Record:
    return Record(str(package), display_name=package.display_name,
                  description=package.description, catalog=_named(package.catalog))


def request_facts(request: AssignmentRequest) -> Record:
    return Record(
        str(request), id=request.pk, request_type=request.request_type,
        get_request_type_display=request.get_request_type_display(), state=request.state,
        get_state_display=request.get_state_display(), status=request.status,
        access_package=package_facts(request.access_package),
        requestor=requestor_facts(request.requestor), requestor_id=request.requestor_id,
        target=requestor_facts(request.target), target_id=request.target_id,
        justification=request.justification, schedule_start_at=request.schedule_start_at,
        schedule_end_at=request.schedule_end_at, created_at=request.created_at,
        completed_at=request.completed_at)


def _decision_facts(decision: ApprovalDecision) -> Record:
    # No approver: the stage timed out.
    approver = None if decision.approver is None else person_facts(decision.approver)
    return Record(decision.get_result_display(), approver=approver, result=decision.result,
                  justification=decision.justification, decided_at=decision.decided_at)


def stage_facts(stage: ApprovalStage) -> Record:
    decision = getattr(stage, "decision", None)  # a stage nobody decided has none
    decided = {} if decision is None else {"decision": _decision_facts(decision)}
    return Record(str(stage), order=stage.order, state=stage.state,
                  get_state_display=stage.get_state_display(), started_at=stage.started_at,
                  due_at=stage.due_at, escalated_at=stage.escalated_at,
                  completed_at=stage.completed_at, **decided)


def assignment_facts(assignment: Assignment) -> Record:
    return Record(
        str(assignment), id=assignment.pk,
        access_package=package_facts(assignment.access_package),
        target=person_facts(assignment.target), state=assignment.state,
        get_state_display=assignment.get_state_display(), status=assignment.status,
        start_at=assignment.start_at, expires_at=assignment.expires_at,
        ended_at=assignment.ended_at, end_reason=assignment.end_reason,
        get_end_reason_display=assignment.get_end_reason_display(),
        created_at=assignment.created_at)


def review_facts(review: AccessReview) -> Record:
    return Record(str(review), id=review.pk, access_package=package_facts(review.access_package),
                  state=review.state, get_state_display=review.get_state_display(),
                  start_at=review.start_at, end_at=review.end_at, created_at=review.created_at,
                  completed_at=review.completed_at, applied_at=review.applied_at)


# The names that hold a row, and what a template sees of it; every other name is plain.
FACTS = {"recipient": person_facts, "request": request_facts, "stage": stage_facts,
         "assignment": assignment_facts, "user": account_facts, "review": review_facts}


def documented_context(topic: str, values: dict) -> dict:
    """The names `topic` documents, as plain values: a row becomes a Record of its facts."""
    context = {}
    for name in TOPIC_VARIABLES[topic]:
        if name in values:
            value, facts = values[name], FACTS.get(name)
            context[name] = plain(value) if facts is None or value is None else facts(value)
    return context


def email_context(topic: str, payload: dict, recipient: User | None) -> dict:
    """What the templates see: the payload's rows, the recipient and their links, as the
    topic's documented names (`documented_context`)."""
    context = {"site_url": settings.SITE_URL, "recipient": recipient, "topic": topic,
               "requests_url": _url("request_history"), "approvals_url": _url("approval_list"),
               **payload}
    if "request_id" in payload:
        context["request"] = AssignmentRequest.objects.select_related(
            "access_package__catalog", "requestor__connected_organization",
            "requestor__manager", "target__connected_organization",
            "target__manager").get(pk=payload["request_id"])
    if "stage_id" in payload:
        stage = ApprovalStage.objects.select_related(
            "decision__approver__connected_organization").get(pk=payload["stage_id"])
        context["stage"] = stage
        if recipient is not None and topic in APPROVAL_LINK_TOPICS:
            context["approval_url"] = approval_link_url(stage, recipient.pk)
    if "assignment_id" in payload:
        context["assignment"] = Assignment.objects.select_related(
            "access_package__catalog", "target__connected_organization").get(
            pk=payload["assignment_id"])
        context["extend_url"] = _url("access_extend", payload["assignment_id"])
    if "user_id" in payload:
        context["user"] = User.objects.select_related("connected_organization").get(
            pk=payload["user_id"])
    if "review_id" in payload:
        context.update(_review_context(payload["review_id"], recipient))
    return documented_context(topic, context)


def review_admin_url(review_id: int) -> str:
    """Where owners follow a review and its results: its admin page."""
    try:
        return _url("admin:governance_accessreview_change", review_id)
    except NoReverseMatch:
        return _url("admin:index")


def _review_context(review_id: int, recipient: User | None) -> dict:
    """The review, its links, and for a reviewer how many people they still have to review
    and whether they review only their own access (a self-review: "Do you still need it?")."""
    review = AccessReview.objects.select_related("access_package__catalog").get(pk=review_id)
    context = {"review": review, "review_url": _url("review_detail", review.pk),
               "reviews_url": _url("reviews"), "results_url": review_admin_url(review.pk),
               "expiration_behavior": (review.settings or {}).get("expirationBehavior",
                                                                  "keepAccess"),
               "to_review": 0, "self_review": False}
    if recipient is not None:
        mine = reviewable_decisions(recipient).filter(review=review)
        context["to_review"] = mine.filter(decision=ReviewDecisionValue.NOT_REVIEWED).count()
        context["self_review"] = (mine.filter(principal=recipient).exists()
                                  and not mine.exclude(principal=recipient).exists())
    return context


def language_of(recipient: User | None) -> str:
    language = recipient.preferred_language if recipient else ""
    return language if language in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE


def _engine():
    return sandbox_engine()


def _render(template: Template, context: dict, *, html: bool) -> str:
    rendered = template.render(Context(context, autoescape=html))
    # render() marks its output safe; plain text is not HTML, so that the layout that puts
    # it in an HTML body (TEXT_IN_LAYOUT) escapes it.
    return rendered if html else str.__str__(rendered)


# A topic without its own HTML, and an override with a blank HTML body, get this.
TEXT_IN_LAYOUT = ('{% extends "emails/base.html" %}{% block body %}'
                  "{{ text_body|urlize|linebreaks }}{% endblock %}")


def file_template(topic: str, language: str, part: str) -> Template:
    names = [f"emails/{language}/{topic}.{part}", f"emails/{topic}.{part}"]
    try:
        return _engine().select_template(names)
    except TemplateDoesNotExist:
        if part != "html":
            raise
        return _engine().from_string(TEXT_IN_LAYOUT)


def _file_templates(topic: str, language: str) -> list[Template]:
    return [file_template(topic, language, part) for part in PARTS]


def override_templates(subject: str, text_body: str, html_body: str) -> list[Template]:
    """Compile an administrator's version; raises TemplateSyntaxError when one part is wrong."""
    return [_engine().from_string(source)
            for source in (subject, text_body, html_body or TEXT_IN_LAYOUT)]


def _file_set(topic: str, language: str) -> tuple[list[Template], str]:
    """The files for `topic` in `language` if there are any, and the language they are in:
    an English text must not get German dates nor lang="de"."""
    try:
        _engine().get_template(f"emails/{language}/{topic}.txt")
    except TemplateDoesNotExist:
        language = settings.LANGUAGE_CODE
    return _file_templates(topic, language), language


def render_with(templates: list[Template], context: dict, language: str) -> RenderedEmail:
    """:raises TypeError: when `context` holds anything but plain values."""
    subject_template, text_template, html_template = templates
    context = {name: plain(value) for name, value in context.items()}
    with translation.override(language):
        subject = " ".join(_render(subject_template, context, html=False).split())
        text = _render(text_template, context, html=False)
        html = _render(html_template, {**context, "text_body": text}, html=True)
    return RenderedEmail(subject, text, html)


def render_email(topic: str, payload: dict, recipient: User | None = None) -> RenderedEmail:
    if topic not in TOPICS:
        raise ValueError(f"Unknown email topic {topic!r}")
    wanted = language_of(recipient)
    context = email_context(topic, payload, recipient)
    override = (EmailTemplate.objects.filter(topic=topic, language__in=[wanted, ""])
                .order_by("-language").first())
    if override is not None:
        try:
            return render_with(
                override_templates(override.subject, override.text_body, override.html_body),
                context, override.language or settings.LANGUAGE_CODE)
        except (TemplateSyntaxError, TemplateDoesNotExist) as exc:
            # An administrator's version that cannot render (it includes a template that
            # is gone, say) must not hold the email back: the standard one goes instead.
            logger.error("Email template %s does not render (%s); sending the standard one",
                         override, exc)
    templates, language = _file_set(topic, wanted)
    return render_with(templates, context, language)
