"""Administrators' versions of the emails: saved and removed here, audited, checked first.

A saved version wins over the file templates for its topic and language (blank: every
language without its own version); removing it brings the file templates back. It is
compiled by the emails' locked-down engine (`governance.notifications.sandbox`), which refuses the
tags that could show what an email must not, such as `{% debug %}`.
"""

from django.conf import settings
from django.db import IntegrityError, transaction
from django.template import TemplateSyntaxError

from governance import clock
from governance.models import EmailTemplate, User
from governance.notifications import TOPICS
from governance.notifications.sandbox import ForbiddenTag, sandbox_engine
from governance.services.audit import audit_record, audit_saved
from governance.services.errors import Duplicate, InvalidInput
from governance.services.internal.guards import locked_or_not_found

SUBJECT_MAX_LENGTH = EmailTemplate._meta.get_field("subject").max_length
# The form's field names, as InvalidInput names them, and how a message calls them.
PART_NAMES = {"subject": "subject", "text_body": "text body", "html_body": "HTML body"}
GONE = "This email template no longer exists; someone removed it."


def _language_name(language: str) -> str:
    return dict(settings.LANGUAGES).get(language) or "all languages"


def _compile(field: str, source: str) -> None:
    try:
        sandbox_engine().from_string(source)
    except TemplateSyntaxError as error:
        reason = str(error).strip()
        if not reason.endswith((".", "?", "!")):
            reason += "."
        if isinstance(error, ForbiddenTag):
            raise InvalidInput(f"The {PART_NAMES[field]} cannot be saved: {reason}",
                               field=field, code="forbiddenTag") from error
        raise InvalidInput(f"The {PART_NAMES[field]} is not a valid template: {reason}",
                           field=field, code="invalidTemplate") from error


def email_parts_check(*, subject: str, text_body: str, html_body: str) -> dict:
    """The three parts as they would be saved, or InvalidInput naming the part that is wrong."""
    # Browsers send text areas with CRLF line ends; the emails use LF.
    parts = {"subject": " ".join((subject or "").split()),
             "text_body": (text_body or "").replace("\r\n", "\n"),
             "html_body": (html_body or "").replace("\r\n", "\n")}
    if not parts["subject"]:
        raise InvalidInput("The subject cannot be empty.", field="subject")
    if len(parts["subject"]) > SUBJECT_MAX_LENGTH:
        raise InvalidInput(f"The subject can have at most {SUBJECT_MAX_LENGTH} characters.",
                           field="subject")
    if not parts["text_body"].strip():
        raise InvalidInput("The text body cannot be empty: every email has a plain text part.",
                           field="text_body")
    if not parts["html_body"].strip():
        parts["html_body"] = ""
    for field, source in parts.items():
        if source:
            _compile(field, source)
    return parts


def email_template_check(*, topic: str, language: str, subject: str, text_body: str,
                         html_body: str, template_id: int | None = None) -> dict:
    """The fields as they would be saved, or InvalidInput / Duplicate naming the problem.

    Reads only; `email_template_save` calls it, and the admin's form calls it to show a
    refusal beside its field before anything is saved.
    """
    topic, language = (topic or "").strip(), (language or "").strip()
    if topic not in TOPICS:
        raise InvalidInput(f"“{topic}” is not an email topic; choose one of the list.",
                           field="topic")
    if language and language not in dict(settings.LANGUAGES):
        raise InvalidInput(f"“{language}” is not one of the portal's languages; choose one "
                           "of the list, or none for all languages.", field="language")
    fields = {"topic": topic, "language": language,
              **email_parts_check(subject=subject, text_body=text_body, html_body=html_body)}
    others = EmailTemplate.objects.filter(topic=topic, language=language)
    if template_id is not None:
        others = others.exclude(pk=template_id)
    if others.exists():
        raise Duplicate(f"The email “{topic}” already has a version for "
                        f"{_language_name(language)}; change that one instead.",
                        code="duplicateEmailTemplate")
    return fields


def _snapshot(template: EmailTemplate) -> dict:
    return {"topic": template.topic, "language": template.language,
            "subject": template.subject, "textBody": template.text_body,
            "htmlBody": template.html_body}


def email_template_save(*, actor: User | None, topic: str, language: str, subject: str,
                        text_body: str, html_body: str,
                        template_id: int | None = None) -> EmailTemplate:
    """Create (no `template_id`) or change an administrator's version of one email."""
    fields = email_template_check(topic=topic, language=language, subject=subject,
                                  text_body=text_body, html_body=html_body,
                                  template_id=template_id)
    with transaction.atomic():
        if template_id is None:
            template, before = EmailTemplate(), None
        else:
            template = locked_or_not_found(EmailTemplate.objects, template_id, GONE)
            before = _snapshot(template)
        for name, value in fields.items():
            setattr(template, name, value)
        if before is not None and _snapshot(template) == before:
            return template
        template.updated_at, template.updated_by = clock.now(), actor
        try:
            # A savepoint: another administrator may have saved the same topic and language
            # between the check and this insert.
            with transaction.atomic():
                template.save(update_fields=None if before is None
                              else [*fields, "updated_at", "updated_by"])
        except IntegrityError as error:
            raise Duplicate(f"The email “{template.topic}” already has a version for "
                            f"{_language_name(template.language)}; change that one instead.",
                            code="duplicateEmailTemplate") from error
        audit_saved(actor=actor, obj=template, before=before, after=_snapshot(template),
                    created="emailTemplate.created", changed="emailTemplate.changed")
    return template


def email_template_delete(*, actor: User | None, template_id: int) -> None:
    """Remove an administrator's version; the file templates apply again."""
    with transaction.atomic():
        template = locked_or_not_found(EmailTemplate.objects, template_id, GONE)
        audit_record(actor=actor, action="emailTemplate.deleted", obj=template,
                     before=_snapshot(template))
        template.delete()
