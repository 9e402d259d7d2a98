"""A custom extension's receiver for the tests: an HTTP server on loopback, in a thread.

It checks each call's signature with governance.connectors.webhook.verify_signature, as a
real receiver would, answers 401 when it does not verify, and records every call. With
`answer`, it also calls back: after answering the call, it POSTs `answer(call)` (a Graph
resume body, or None for no callback) to `callback_base` + the call's callbackUriPath.
"""

import json
import threading
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


__all__ = ["CALLOUT_HEADER", "Call", "Receiver", "resume_body"]
