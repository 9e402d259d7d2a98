"""Custom extensions' calls: a JSON POST signed with the extension's secret (HMAC-SHA256).

The receiver checks two headers:

- `X-Portal-Timestamp`: when the call was signed, in whole seconds since 1970 (UTC);
- `X-Portal-Signature`: `sha256=` and the hex HMAC-SHA256, keyed with the shared secret, of
  the bytes `"{timestamp}.{body}"`, the body exactly as received.

`verify_signature` is that check, for receivers written in Python (and for our tests): it
refuses a changed body, another secret, and a timestamp further than `tolerance` seconds
from now (a replayed call). `X-Portal-Callout` names the callout, the same on every retry,
so that a receiver can recognise a call it has already handled.
"""

import hashlib
import hmac
import json
import time

from django.conf import settings

from governance import clock
from governance.connectors.base import ConnectorError
from governance.connectors.http import error_text, new_session, send

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


def post(*, url: str, secret: str, body: dict, callout_id: int) -> int:
    """POST the signed body; returns the receiver's status code (2xx).

    :raises ConnectorError: unreachable, refused or redirected, as governance.connectors.http
        describes. The outbox retries what may pass later: unreachable, 5xx, 429, and a
        refused signature (401, 403), since the secret may be changing on one side. Other
        refusals (404, 400, a redirect) fail the call at once.
    """
    data = encode(body)
    timestamp = str(int(clock.now().timestamp()))
    headers = {"Content-Type": "application/json", TIMESTAMP_HEADER: timestamp,
               SIGNATURE_HEADER: signature(secret, timestamp, data),
               CALLOUT_HEADER: str(callout_id)}
    session = new_session(verify=settings.CONNECTOR_CA_BUNDLE)
    try:
        # A redirect would turn the POST into a GET elsewhere: it is an error to fix, not follow.
        response = send(session, "POST", url, data=data, headers=headers,
                        allow_redirects=False, accept=(401, 403))
    finally:
        session.close()
    if response.status_code in (401, 403):
        raise ConnectorError(f"{response.status_code} from POST {url}: the receiver refused "
                             f"the signature ({error_text(response)}).")
    if response.status_code >= 300:
        raise ConnectorError(f"{url} answered {response.status_code} (a redirect to "
                             f"{response.headers.get('Location', 'nowhere')}); give the "
                             "extension the final address.", retryable=False)
    return response.status_code
