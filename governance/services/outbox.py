"""The stored outbox: side effects become rows first, and are sent after the commit.

Sending marks a row in flight and commits before talking to the mail server, records the
result, and retries with backoff. A row left in flight by a dead worker is swept back.
"""

import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import connection, transaction
from django.db.models import Q

from governance import clock
from governance.choices import OutboxState
from governance.connectors import ConnectorError
from governance.models import OutboxMessage, User
from governance.notifications import render_email
from governance.services.internal.bulk import bulk_insert
from governance.services.internal.dispatch import outbox_after_commit
from governance.services.internal.retry import backoff

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
STUCK_AFTER = timedelta(minutes=10)


@dataclass(frozen=True)
class _Channel:
    send: Callable[[OutboxMessage], None]
    # (message, last error): the outbox stopped trying.
    gave_up: Callable[[OutboxMessage, str], None]


# Channels other than email, each sent by the service that queues its messages (the custom
# extensions' webhooks): they import the outbox to queue, so it cannot import them.
_channels: dict[str, _Channel] = {}


def outbox_channel_connect(channel: str, *, send: Callable[[OutboxMessage], None],
                           gave_up: Callable[[OutboxMessage, str], None]) -> None:
    """Send the messages of `channel` with `send`, which raises to have them retried."""
    _channels[channel] = _Channel(send=send, gave_up=gave_up)


def _channel(message: OutboxMessage) -> _Channel:
    try:
        return _channels[message.channel]
    except KeyError:
        raise RuntimeError(f"Nothing sends outbox messages of channel {message.channel!r}: "
                           "governance.apps imports the services that do when Django "
                           "starts.") from None


# Mail servers are retried more gently than target systems: 1, 2, 4 … minutes.
EMAIL_FIRST_RETRY = timedelta(minutes=1)


def email(*, topic: str, recipient_id: int, to_address: str, payload: dict,
          dedupe_key: str | None = None) -> OutboxMessage:
    """An unsaved email row, due at once; queue many with notify_messages()."""
    now = clock.now()
    return OutboxMessage(topic=topic, recipient_id=recipient_id, to_address=to_address,
                         payload=payload, dedupe_key=dedupe_key, created_at=now,
                         next_attempt_at=now)


def notify(*, topic: str, recipients: Iterable[User], payload: dict,
           dedupe_key: str | None = None) -> int:
    """Queue one email per recipient; with `dedupe_key`, a second call queues nothing."""
    return notify_messages([
        email(topic=topic, recipient_id=user.pk, to_address=user.email, payload=payload,
              dedupe_key=f"{dedupe_key}:{user.pk}" if dedupe_key else None)
        for user in recipients if user.email
    ])


def notify_messages(messages: list[OutboxMessage]) -> int:
    if not messages:
        return 0
    bulk_insert(OutboxMessage, messages, conflict_column="dedupe_key")
    outbox_after_commit()
    return len(messages)


# The rows email() builds, for every user a query names, without building them in Python:
# for the 100,000 reviewers of a large access review that took most of its start's time.
_EMAILS_TO_SELECTED = """
INSERT INTO {outbox} (channel, topic, recipient_id, to_address, payload, dedupe_key, state,
                      attempts, last_error, created_at, next_attempt_at)
SELECT %(channel)s, %(topic)s, u.id, u.email, CAST(%(payload)s AS {payload_type}),
       %(dedupe)s || CAST(u.id AS VARCHAR(20)), %(queued)s, 0, '', %(now)s, %(now)s
FROM {user} u
WHERE u.email <> '' AND u.id IN ({user_ids})
ORDER BY u.id
ON CONFLICT (dedupe_key) DO NOTHING
"""


def notify_selected(*, topic: str, payload: dict, dedupe_prefix: str, user_ids_sql: str,
                    params: dict) -> int:
    """Queue one email to each user whose id `user_ids_sql` (a SELECT, with `params`)
    returns, once: their dedupe key is `dedupe_prefix` followed by their id. Set-based, in
    the caller's transaction; returns how many were queued."""
    field = OutboxMessage._meta.get_field("payload")
    sql = _EMAILS_TO_SELECTED.format(
        outbox=OutboxMessage._meta.db_table, user=User._meta.db_table, user_ids=user_ids_sql,
        payload_type=field.db_type(connection))
    now = connection.ops.adapt_datetimefield_value(clock.now())
    with connection.cursor() as cursor:
        cursor.execute(sql, {**params, "channel": OutboxMessage.Channel.EMAIL.value,
                             "topic": topic, "payload": json.dumps(payload, cls=field.encoder),
                             "dedupe": dedupe_prefix, "queued": OutboxState.QUEUED.value,
                             "now": now})
        queued = cursor.rowcount
    if queued:
        outbox_after_commit()
    return queued


def _due(now: datetime) -> Q:
    ready = Q(state__in=[OutboxState.QUEUED, OutboxState.WAITING_RETRY], next_attempt_at__lte=now)
    stuck = Q(state=OutboxState.IN_FLIGHT, claimed_at__lte=now - STUCK_AFTER)
    return ready | stuck


def _claim(now: datetime, batch_size: int, message_id: int | None) -> list[OutboxMessage]:
    with transaction.atomic():
        rows = OutboxMessage.objects.filter(_due(now))
        if message_id is not None:
            rows = rows.filter(pk=message_id)
        rows = list(rows.select_for_update(skip_locked=True).order_by("id")[:batch_size])
        for row in rows:
            row.state = OutboxState.IN_FLIGHT
            row.claimed_at = now
            row.attempts += 1
        OutboxMessage.objects.bulk_update(rows, ["state", "claimed_at", "attempts"])
    return rows


def message_id_of(message: OutboxMessage) -> str:
    """The same Message-ID on every attempt: if a worker dies after the mail server took a
    message but before recording it, the resend is recognisable as the same email."""
    host = urlsplit(settings.SITE_URL).hostname or "localhost"
    return f"<outbox.{message.pk}.{int(message.created_at.timestamp())}@{host}>"


def _send(message: OutboxMessage) -> None:
    if message.channel != OutboxMessage.Channel.EMAIL:
        _channel(message).send(message)
        return
    rendered = render_email(message.topic, message.payload, message.recipient)
    mail = EmailMultiAlternatives(subject=rendered.subject, body=rendered.text,
                                  to=[message.to_address],
                                  headers={"Message-ID": message_id_of(message)})
    mail.attach_alternative(rendered.html, "text/html")
    mail.send()


def _record(message: OutboxMessage, error: str | None, now: datetime, *,
            final: bool = False) -> None:
    """`final`: the receiver refused the message (a 4xx), so trying again cannot help."""
    updates = {"last_error": error or ""}
    if error is None:
        updates.update(state=OutboxState.SENT, sent_at=now)
    elif final or message.attempts >= MAX_ATTEMPTS:
        updates.update(state=OutboxState.FAILED)
    else:
        updates.update(state=OutboxState.WAITING_RETRY,
                       next_attempt_at=now + backoff(message.attempts, first=EMAIL_FIRST_RETRY))
    # Compare-and-set: a sweeper may have re-claimed a row we held too long.
    recorded = OutboxMessage.objects.filter(pk=message.pk, state=OutboxState.IN_FLIGHT,
                                            claimed_at=message.claimed_at).update(**updates)
    if (recorded and updates.get("state") == OutboxState.FAILED
            and message.channel != OutboxMessage.Channel.EMAIL):
        _channel(message).gave_up(message, error)


def outbox_send_due(*, message_id: int | None = None, batch_size: int = 100) -> int:
    """Send what is due (or one message); returns how many were attempted."""
    attempted = 0
    while True:
        now = clock.now()
        claimed = _claim(now, batch_size, message_id)
        if not claimed:
            return attempted
        for message in claimed:
            error, final = None, False
            try:
                _send(message)
            except ConnectorError as exc:  # a webhook receiver's answer, in its own words
                error, final = str(exc), not exc.retryable
            except Exception as exc:  # noqa: BLE001 - any failure is recorded and retried
                logger.warning("Sending %s to %s failed: %s", message.topic,
                               message.to_address, exc)
                error = f"{type(exc).__name__}: {exc}"
            _record(message, error, clock.now(), final=final)
        attempted += len(claimed)
        if message_id is not None:
            return attempted
