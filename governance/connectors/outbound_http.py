"""Calling an address a catalog owner chose, within what governance.connectors.outbound allows.

- The URL is checked before the call, and the address each new connection actually reached
  is checked before a byte is sent: a name that resolved to a public address a moment ago
  may resolve to this machine now (DNS rebinding).
- Redirects are never followed: the caller gets the 3xx.
- Connect and read timeouts, and a deadline for the whole call: a receiver answering a byte
  at a time cannot hold the outbox worker.
- At most READ_AT_MOST bytes of the answer are read, and none is returned: the caller sees
  the status and headers only, so no remote text reaches the people shown the result.

TLS is verified against the host name as usual (`verify`: CONNECTOR_CA_BUNDLE).
"""

import contextlib
import re
import socket
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from ipaddress import ip_address
from urllib.parse import urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from governance.connectors.base import ConnectorError
from governance.connectors.http import new_session
from governance.connectors.outbound import AllowList, OutboundRefused, check_url, refusal

CONNECT_TIMEOUT, READ_TIMEOUT = 5.0, 10.0  # seconds
DEADLINE = 15.0  # seconds for the whole call, connecting included
READ_AT_MOST = 64 * 1024


@dataclass(frozen=True)
class Answer:
    status: int
    headers: Mapping[str, str]
    bytes_read: int  # of the body, at most READ_AT_MOST


class Deadline:
    """Shuts the call's sockets down when the time is up, whatever they are waiting for."""

    def __init__(self, seconds: float):
        self.seconds, self.at = seconds, time.monotonic() + seconds
        self.expired = False
        self._timers: list[threading.Timer] = []

    def remaining(self) -> float:
        return max(self.at - time.monotonic(), 0.0)

    def watch(self, sock: socket.socket) -> None:
        timer = threading.Timer(self.remaining(), self._expire, [sock])
        timer.daemon = True
        self._timers.append(timer)
        timer.start()

    def _expire(self, sock: socket.socket) -> None:
        self.expired = True
        with contextlib.suppress(OSError):  # already closed: the call ended meanwhile
            sock.shutdown(socket.SHUT_RDWR)

    def cancel(self) -> None:
        for timer in self._timers:
            timer.cancel()


def _guarded_pools(allow: AllowList, deadline: Deadline) -> dict:
    """urllib3 pool classes whose connections check the peer they reached, then let the
    deadline watch them."""

    def guard(connection: HTTPConnection, sock: socket.socket) -> None:
        peer = ip_address(sock.getpeername()[0].split("%", 1)[0])
        reason = refusal(connection.host, peer, allow)
        if reason:
            raise OutboundRefused(reason)
        deadline.watch(sock)

    class Guarded:
        def _new_conn(self):
            sock = super()._new_conn()
            try:
                guard(self, sock)
            except BaseException:
                sock.close()
                raise
            return sock

    class Connection(Guarded, HTTPConnection):
        pass

    class SecureConnection(Guarded, HTTPSConnection):
        pass

    class Pool(HTTPConnectionPool):
        ConnectionCls = Connection

    class SecurePool(HTTPSConnectionPool):
        ConnectionCls = SecureConnection

    return {"http": Pool, "https": SecurePool}


class _GuardedAdapter(HTTPAdapter):
    def __init__(self, pools: dict):
        self._pools = pools
        super().__init__(max_retries=0)

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = self._pools


def guarded_session(allow: AllowList, deadline: Deadline, *,
                    verify: bool | str = True) -> requests.Session:
    """A session whose every connection is refused, before a byte is sent, when the address
    it reached is not one `allow` lets us call, and is cut when `deadline` passes."""
    session = new_session(verify=verify)
    adapter = _GuardedAdapter(_guarded_pools(allow, deadline))
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def _read_capped(response: requests.Response) -> int:
    """Read and drop at most READ_AT_MOST bytes: a small answer is read to its end, so that
    the receiver sees the connection closed normally rather than reset."""
    read = 0
    try:
        while read < READ_AT_MOST:
            chunk = response.raw.read(min(16 * 1024, READ_AT_MOST - read),
                                      decode_content=False)
            if not chunk:
                break
            read += len(chunk)
    except (urllib3.exceptions.HTTPError, OSError):
        pass  # the status has come: a body cut short changes nothing
    return read


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}"  # never a user:password


def _unreachable(url: str, exc: Exception, deadline: Deadline) -> str:
    origin = _origin(url)
    if deadline.expired:
        return f"{origin} did not answer within {deadline.seconds:g} s."
    if isinstance(exc, requests.Timeout):
        return (f"{origin} did not answer in time ({CONNECT_TIMEOUT:g} s to connect, "
                f"{READ_TIMEOUT:g} s to answer).")
    cause = re.search(r"\[Errno -?\d+\] ([^'\")\]]+)", str(exc))
    if cause:
        return f"Could not reach {origin}: {cause.group(1).strip()}."
    return f"Could not reach {origin}: the connection failed ({type(exc).__name__})."


def _tls_problem(exc: Exception) -> str:
    found = re.search(r"certificate verify failed: ([^(')\]]+)", str(exc))
    if found:
        return f"its certificate was refused ({found.group(1).strip()})"
    return "the handshake did not succeed"


def post(url: str, *, data: bytes, headers: Mapping[str, str], allow: AllowList,
         verify: bool | str = True, deadline: float = DEADLINE) -> Answer:
    """POST `data` to `url`; the answer's status and headers, whatever the status.

    :raises OutboundRefused: the host, or the address reached, may not be called.
    :raises ConnectorError: unreachable, unresolvable, too slow (retryable), or a TLS
        certificate refused (not retryable).
    """
    check_url(url, allow)
    clock = Deadline(deadline)
    session = guarded_session(allow, clock, verify=verify)
    try:
        response = session.post(url, data=data, headers=dict(headers), allow_redirects=False,
                                stream=True,
                                timeout=(min(CONNECT_TIMEOUT, deadline), READ_TIMEOUT))
        try:
            if clock.expired:
                # Cut while the headers came: what arrived may be any part of them.
                raise requests.Timeout("the deadline passed")
            read = _read_capped(response)
        finally:
            response.close()
    except requests.exceptions.SSLError as exc:
        raise ConnectorError(f"The TLS connection to {_origin(url)} failed: {_tls_problem(exc)}.",
                             retryable=False) from None
    except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
        raise ConnectorError(_unreachable(url, exc, clock)) from None
    finally:
        clock.cancel()
        session.close()
    return Answer(response.status_code, response.headers, read)
