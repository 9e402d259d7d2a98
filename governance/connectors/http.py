"""HTTP for the connectors: one place that turns a target's answers into ConnectorErrors.

- unreachable, timeouts, 5xx: retryable, with the target's own text;
- 429 (and 503 with Retry-After): waits in place when the target asks for a few seconds,
  otherwise a retryable error carrying `retry_after`, so the delivery row waits as long;
- 401 and 403: not retryable (the credentials are wrong until someone fixes them);
- other 4xx: not retryable, unless the caller handles that status itself (`accept`);
- a body that is not the JSON promised: not retryable, never taken for success.
"""

import email.utils
import re
import time
from collections.abc import Iterable
from urllib.parse import urlsplit

import requests

from governance import clock
from governance.connectors.base import ConnectorError

TIMEOUT = (5, 30)  # connect, read (seconds)
WAIT_IN_PLACE_UP_TO = 5.0  # seconds of Retry-After we sleep through rather than requeue
TRIES_IN_PLACE = 3


def new_session(*, verify: bool | str = True) -> requests.Session:
    """A session that ignores REQUESTS_CA_BUNDLE and friends: `verify` means what it says."""
    session = requests.Session()
    session.trust_env = False
    session.verify = verify
    return session


def retry_after_seconds(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        when = email.utils.parsedate_to_datetime(value)
        if when is None:
            return None
        return max((when - clock.now()).total_seconds(), 0.0)


def error_text(response: requests.Response, limit: int = 300) -> str:
    """The target's own words: SCIM `detail`, Graph `error.message`, or the start of the body."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and error.get("message"):
            code = error.get("code")
            return f"{code}: {error['message']}" if code else str(error["message"])
        for key in ("detail", "error_description", "message"):
            if body.get(key):
                return str(body[key])[:limit]
    text = " ".join(response.text.split())
    return text[:limit] or response.reason or "no explanation"


def _without_query(url: str) -> str:
    # Queries carry search filters (people's addresses): the error text is shown to people.
    return urlsplit(url)._replace(query="", fragment="").geturl()


def _describe(response: requests.Response) -> str:
    return f"{response.status_code} from {response.request.method} " \
           f"{_without_query(response.url)}: {error_text(response)}"


def _unreachable(url: str, exc: requests.RequestException) -> str:
    """"Could not reach https://host:port: Connection refused", not urllib3's whole story."""
    parts = urlsplit(url)
    origin = f"{parts.scheme}://{parts.netloc}"
    text = str(exc)
    if isinstance(exc, requests.Timeout):
        return f"{origin} did not answer in time ({TIMEOUT[0]} s to connect, {TIMEOUT[1]} s " \
               "to answer)."
    cause = re.search(r"\[Errno -?\d+\] ([^'\")\]]+)", text)
    if cause:
        return f"Could not reach {origin}: {cause.group(1).strip()}."
    if "Name or service not known" in text or "getaddrinfo" in text:
        return f"Could not reach {origin}: the host name is unknown."
    return f"Could not reach {origin}: {text[:200]}"


def send(session: requests.Session, method: str, url: str, *, accept: Iterable[int] = (),
         **kwargs) -> requests.Response:
    """Send a request; return the response when it succeeded or its status is in `accept`.

    :raises ConnectorError: as described in the module docstring.
    """
    kwargs.setdefault("timeout", TIMEOUT)
    for attempt in range(1, TRIES_IN_PLACE + 1):
        try:
            response = session.request(method, url, **kwargs)
        except requests.exceptions.SSLError as exc:
            raise ConnectorError(f"The TLS certificate of {_without_query(url)} was refused: "
                                 f"{exc}",
                                 retryable=False) from None
        except requests.RequestException as exc:
            raise ConnectorError(_unreachable(url, exc)) from None
        if response.status_code < 400 or response.status_code in accept:
            return response
        wait = retry_after_seconds(response)
        if response.status_code in (429, 503) and wait is not None:
            if wait <= WAIT_IN_PLACE_UP_TO and attempt < TRIES_IN_PLACE:
                time.sleep(wait)
                continue
            raise ConnectorError(f"Throttled: {_describe(response)}", retry_after=wait)
        if response.status_code >= 500 or response.status_code in (408, 429):
            raise ConnectorError(_describe(response))
        if response.status_code in (401, 403):
            raise ConnectorError(f"The credentials were refused: {_describe(response)}",
                                 retryable=False)
        raise ConnectorError(_describe(response), retryable=False)
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises


def json_of(response: requests.Response, *, expect: type = dict):
    """The JSON body, which must be a `expect`; garbage is an error, never a success."""
    try:
        body = response.json()
    except ValueError:
        snippet = " ".join(response.text.split())[:200] or "an empty body"
        raise ConnectorError(f"{response.request.method} {response.url} answered something "
                             f"that is not JSON: {snippet}", retryable=False) from None
    if not isinstance(body, expect):
        raise ConnectorError(f"{response.request.method} {response.url} answered JSON of an "
                             f"unexpected shape: {str(body)[:200]}", retryable=False)
    return body
