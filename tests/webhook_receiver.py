"""A custom extension's receiver for the tests: an HTTP server on loopback, in a thread.

It checks each call's signature with governance.connectors.webhook.verify_signature, as a
real receiver would, answers 401 when it does not verify, and records every call. With
`answer`, it also calls back: after answering the call, it POSTs `answer(call)` (a Graph
resume body, or None for no callback) to `callback_base` + the call's callbackUriPath.
`RawReceiver` misbehaves instead: redirects, huge bodies, answers a byte at a time.
"""

import json
import re
import socket
import socketserver
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

from governance.connectors.webhook import (
    CALLOUT_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    verify_signature,
)


@dataclass
class Call:
    headers: dict
    raw: bytes
    verified: bool

    @property
    def body(self) -> dict:
        return json.loads(self.raw)

    @property
    def data(self) -> dict:
        return self.body["data"]


@dataclass
class Callback:
    status: int
    body: bytes


@dataclass
class Receiver:
    secret: str
    status: int = 200           # what it answers to a call that verifies
    answer: object = None       # call -> resume body (or None): then it calls back
    callback_base: str = ""     # e.g. live_server.url
    tls: ssl.SSLContext | None = None  # serve https:// at localhost instead
    calls: list[Call] = field(default_factory=list)
    callbacks: list[Callback] = field(default_factory=list)

    def start(self) -> "Receiver":
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                verified = verify_signature(receiver.secret, self.headers.get(TIMESTAMP_HEADER),
                                            raw, self.headers.get(SIGNATURE_HEADER))
                call = Call(dict(self.headers), raw, verified)
                receiver.calls.append(call)
                self.send_response(receiver.status if verified else 401)
                self.send_header("Content-Length", "0")
                self.end_headers()
                self.wfile.flush()
                if verified and receiver.answer is not None:
                    receiver.call_back(call)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if self.tls is not None:
            self.server.socket = self.tls.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def call_back(self, call: Call) -> None:
        # A stage that does not wait (e.g. granted) carries no callback address.
        if "callbackUriPath" not in call.data:
            return
        body = self.answer(call)
        if body is None:
            return
        response = requests.post(self.callback_base + call.data["callbackUriPath"],
                                 json=body, timeout=30)
        self.callbacks.append(Callback(response.status_code, response.content))

    @property
    def url(self) -> str:
        if self.tls is not None:
            return f"https://localhost:{self.server.server_port}/hooks/access"
        return f"http://127.0.0.1:{self.server.server_port}/hooks/access"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def resume_body(call: Call, *, detail: str = "All checks passed", state: str | None = None) -> dict:
    """Graph's resume body answering `call`."""
    data = {"@odata.type": "microsoft.graph.accessPackageAssignmentRequestCallbackData",
            "stage": call.data["stage"],
            "customExtensionStageInstanceId": call.data["customExtensionStageInstanceId"],
            "customExtensionStageInstanceDetail": detail}
    if state:
        data["state"] = state
    return {"source": "Contoso.ComplianceCheck",
            "type": f"microsoft.graph.accessPackageCustomExtensionStage.{call.data['stage']}",
            "data": data}


class _ThreadingServer(socketserver.ThreadingTCPServer):
    daemon_threads = True


@dataclass
class RawReceiver:
    """A receiver that misbehaves, on loopback, written on raw sockets to control each byte.

    Every request gets `status` with `headers` and a body of `body_size` bytes (`filler`
    repeated), written 16 KiB at a time; `sent` says, per connection, how many body bytes
    the socket took before the client went away. With `drip_every`, the headers are written
    a byte at a time, that many seconds apart. `requests` holds each request's raw bytes.
    """

    status: int = 200
    headers: dict = field(default_factory=dict)
    body_size: int = 0
    filler: bytes = b"REMOTE-BODY-TEXT "
    drip_every: float | None = None
    requests: list[bytes] = field(default_factory=list)
    sent: list[int] = field(default_factory=list)

    def start(self) -> "RawReceiver":
        receiver = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                sock = self.request
                sock.settimeout(20)
                # A small send buffer: what `sent` counts is then close to what was read.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 16 * 1024)
                try:
                    receiver.requests.append(self._read_request(sock))
                    self._answer(sock)
                except OSError:
                    receiver.sent.append(0)

            def _read_request(self, sock) -> bytes:
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = sock.recv(65536)
                    if not chunk:
                        return data
                    data += chunk
                head, _, body = data.partition(b"\r\n\r\n")
                length = re.search(rb"(?i)content-length:\s*(\d+)", head)
                while length and len(body) < int(length.group(1)):
                    chunk = sock.recv(65536)
                    if not chunk:
                        break
                    body += chunk
                return head + b"\r\n\r\n" + body

            def _answer(self, sock) -> None:
                lines = [f"HTTP/1.1 {receiver.status} Whatever the receiver says",
                         f"Content-Length: {receiver.body_size}", "Connection: close",
                         *(f"{name}: {value}" for name, value in receiver.headers.items())]
                head = ("\r\n".join(lines) + "\r\n\r\n").encode()
                if receiver.drip_every:
                    for byte in head:
                        sock.sendall(bytes([byte]))
                        time.sleep(receiver.drip_every)
                else:
                    sock.sendall(head)
                block = (receiver.filler * (16 * 1024 // len(receiver.filler) + 1))[:16 * 1024]
                sent = 0
                try:
                    while sent < receiver.body_size:
                        part = block[:receiver.body_size - sent]
                        sock.sendall(part)
                        sent += len(part)
                except OSError:
                    pass  # the client closed: the rest of the body was not wanted
                receiver.sent.append(sent)

        self.server = _ThreadingServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/access"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


__all__ = ["CALLOUT_HEADER", "Call", "RawReceiver", "Receiver", "resume_body"]
