"""Custom extensions' calls: a JSON POST signed with the extension's secret (HMAC-SHA256).

The receiver checks two headers:

- `X-Portal-Timestamp`: when the call was signed, in whole seconds since 1970 (UTC);
- `X-Portal-Signature`: `sha256=` and the hex HMAC-SHA256, keyed with the shared secret, of
  the bytes `"{timestamp}.{body}"`, the body exactly as received.

`verify_signature` is that check, for receivers written in Python (and for our tests): it
refuses a changed body, another secret, and a timestamp further than `tolerance` seconds
from now (a replayed call). `X-Portal-Callout` names the callout, the same on every retry,
so that a receiver can recognise a call it has already handled.

Catalog owners choose the address, so the call goes through
governance.connectors.outbound_http: only to public addresses or to what the tenant's
outbound allow-list names, no redirects, a deadline, and at most 64 KiB of the answer read.
An error says the status and what it means, never what the receiver wrote.
"""

import hashlib
import hmac
import json
import re
import time
from http import HTTPStatus
from urllib.parse import urlsplit

from django.conf import settings

from governance import clock
from governance.connectors import outbound_http
from governance.connectors.base import ConnectorError
from governance.connectors.http import retry_after_seconds
from governance.connectors.outbound import AllowList
from governance.models import TenantSettings

TIMESTAMP_HEADER = "X-Portal-Timestamp"
SIGNATURE_HEADER = "X-Portal-Signature"
CALLOUT_HEADER = "X-Portal-Callout"
DEFAULT_TOLERANCE = 300  # seconds


def encode(body: dict) -> bytes:
    """The bytes that are sent and signed."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False,
                      sort_keys=True).encode()


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The X-Portal-Signature value for `body` signed at `timestamp`."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={digest.hexdigest()}"


def verify_signature(secret: str, timestamp: str | None, body: bytes, header: str | None,
                     tolerance: float = DEFAULT_TOLERANCE, now: float | None = None) -> bool:
    """Whether `header` signs `body` at `timestamp` with `secret`, within `tolerance` seconds
    of `now` (default: this machine's clock)."""
    if not secret or not timestamp or not header:
        return False
    try:
        signed_at = int(timestamp)
    except ValueError:
        return False
    if abs((time.time() if now is None else now) - signed_at) > tolerance:
        return False
    return hmac.compare_digest(signature(secret, timestamp, body), header.strip())


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "an unknown status"


def _shown(url: str) -> str:
    parts = urlsplit(url)
    return parts._replace(netloc=parts.netloc.rsplit("@", 1)[-1], query="",
                          fragment="").geturl()


def _redirect_target(location: str | None) -> str:
    """Where a redirect pointed, as its host only: the rest is the receiver's own text."""
    if not location:
        return "nowhere"
    netloc = urlsplit(location.strip()).netloc.rsplit("@", 1)[-1]
    if not netloc:
        return "elsewhere on the same host"
    return re.sub(r"[^A-Za-z0-9.:\[\]-]", "", netloc)[:80] or "elsewhere"


def _status_or_error(url: str, answer: outbound_http.Answer) -> int:
    status = answer.status
    said = f"{status} from POST {_shown(url)} ({_phrase(status)})"
    if status < 300:
        return status
    if status < 400:
        target = _redirect_target(answer.headers.get("Location"))
        raise ConnectorError(f"{said}: a redirect to {target}, which is not followed. Give "
                             "the extension the final address.", retryable=False)
    if status in (401, 403):
        raise ConnectorError(f"{said}: the receiver refused the signature; check that it "
                             "uses the extension's secret.")
    wait = retry_after_seconds(answer)
    if status in (429, 503) and wait is not None:
        raise ConnectorError(f"{said}: the receiver asked to wait {wait:.0f} s.",
                             retry_after=wait)
    if status >= 500 or status in (408, 429):
        raise ConnectorError(f"{said}: the receiver failed.")
    raise ConnectorError(f"{said}: the receiver refused the call.", retryable=False)


def post(*, url: str, secret: str, body: dict, callout_id: int,
         deadline: float = outbound_http.DEADLINE) -> int:
    """POST the signed body; returns the receiver's status code (2xx).

    :raises ConnectorError: refused by the outbound allow-list, unreachable, refused or
        redirected. The outbox retries what may pass later: unreachable, 5xx, 429, and a
        refused signature (401, 403), since the secret may be changing on one side. Other
        refusals (a host not allowed, 404, 400, a redirect) fail the call at once.
    """
    data = encode(body)
    timestamp = str(int(clock.now().timestamp()))
    headers = {"Content-Type": "application/json", TIMESTAMP_HEADER: timestamp,
               SIGNATURE_HEADER: signature(secret, timestamp, data),
               CALLOUT_HEADER: str(callout_id)}
    allow = AllowList.of(TenantSettings.current().outbound_allow_list)
    answer = outbound_http.post(url, data=data, headers=headers, allow=allow,
                                verify=settings.CONNECTOR_CA_BUNDLE, deadline=deadline)
    return _status_or_error(url, answer)
