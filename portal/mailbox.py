"""The demo's mailbox (DEBUG only): every email the portal sent, readable in the browser.

Two sources: the outbox (the portal's notifications, rendered as they were sent) and the
files of Django's file-based email backend (allauth's sign-in codes and verifications).
"""

import email
import email.policy
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

from django.conf import settings

from governance.models import OutboxMessage
from governance.notifications import render_email

# Django's file-based backend ends every message with this line.
FILE_SEPARATOR = b"\n" + b"-" * 79 + b"\n"
LIMIT = 200
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Letter:
    key: str
    sent_at: datetime | None
    to: str
    subject: str
    text: str
    html: str
    state: str


def _from_outbox(limit: int, pk: int | None = None) -> list[Letter]:
    rows = OutboxMessage.objects.filter(channel=OutboxMessage.Channel.EMAIL).select_related(
        "recipient")
    if pk is not None:
        rows = rows.filter(pk=pk)
    letters = []
    for row in rows.order_by("-created_at", "-id")[:limit]:
        try:
            rendered = render_email(row.topic, row.payload, row.recipient)
            subject, text, html = rendered.subject, rendered.text, rendered.html
        except Exception as exc:  # noqa: BLE001 - a row whose objects are gone still lists
            subject, text, html = f"({row.topic}: cannot be shown: {exc})", "", ""
        letters.append(Letter(f"o{row.pk}", row.sent_at or row.created_at, row.to_address,
                              subject, text, html, row.get_state_display()))
    return letters


def _mail_files() -> list[Path]:
    if settings.EMAIL_BACKEND != "django.core.mail.backends.filebased.EmailBackend":
        return []
    folder = Path(settings.EMAIL_FILE_PATH)
    return sorted(folder.glob("*.log")) if folder.is_dir() else []


def _parts(message) -> tuple[str, str]:
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    return (text.get_content() if text else "", html.get_content() if html else "")


def _from_files() -> list[Letter]:
    letters = []
    for path in _mail_files():
        for index, raw in enumerate(path.read_bytes().split(FILE_SEPARATOR)):
            if not raw.strip():
                continue
            message = email.message_from_bytes(raw, policy=email.policy.default)
            text, html = _parts(message)
            sent_at = parsedate_to_datetime(message["Date"]) if message["Date"] else None
            if sent_at is not None and sent_at.tzinfo is None:  # "-0000": UTC, zone unknown
                sent_at = sent_at.replace(tzinfo=UTC)
            letters.append(Letter(f"f{path.stem}.{index}", sent_at, str(message["To"] or ""),
                                  str(message["Subject"] or ""), text, html, "Sent"))
    return letters


def mailbox_letters() -> list[Letter]:
    """The latest emails from both sources, newest first."""
    letters = _from_outbox(LIMIT) + _from_files()
    letters.sort(key=lambda letter: letter.sent_at or EPOCH, reverse=True)
    return letters[:LIMIT]


def mailbox_letter(key: str) -> Letter | None:
    if key.startswith("o") and key[1:].isdigit():
        found = _from_outbox(1, pk=int(key[1:]))
        return found[0] if found else None
    return next((letter for letter in _from_files() if letter.key == key), None)
