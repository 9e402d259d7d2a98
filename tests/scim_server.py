"""SCIM services for the connector's tests.

`ScimServer` runs the real `scim2-server` (the venv's console script) on a free loopback
port; `stop()` and `start()` take it down and bring it back on the same port, as an outage
would. It keeps everything in memory: a restart comes back empty. Its helpers read and
write its state the way the SCIM application's own administrator would, so that a test
asserts what the target holds rather than what the portal believes.

`ScriptedTarget` is a loopback HTTP server that answers what a test scripted (a 429, a
garbage body, a 503) and passes every other request on to `upstream`, when it has one.
"""

import json
import sys
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests

from tests.loopback_process import LoopbackProcess

SCIM_SERVER = Path(sys.executable).with_name("scim2-server")
TOKEN = "scim-test-token"  # the bearer token of the `scim_server` fixture
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"


class ScimServer(LoopbackProcess):
    name = "scim2-server"
    executable = SCIM_SERVER
    ready_path = "/ServiceProviderConfig"

    def __init__(self, *, token: str, log_path: Path, port: int | None = None):
        super().__init__(log_path=log_path, port=port)
        self.token = token
        self.admin = requests.Session()
        self.admin.trust_env = False
        self.admin.headers["Authorization"] = f"Bearer {token}"

    def command(self) -> list[str]:
        return [str(SCIM_SERVER), "--hostname", "127.0.0.1", "--port", str(self.port),
                "--bearer-token", self.token]

    # -- the SCIM application's own view ----------------------------------------------------

    def _call(self, method: str, path: str, **kwargs) -> requests.Response:
        response = self.admin.request(method, f"{self.base_url}{path}", timeout=10, **kwargs)
        assert response.status_code < 300, f"{method} {path}: {response.status_code} " \
                                           f"{response.text}"
        return response

    def users(self, **where) -> list[dict]:
        """Every user, or those whose attributes equal `where` (userName=..., say)."""
        found = self._call("GET", "/Users", params={"count": 1000}).json()
        return [user for user in found.get("Resources", [])
                if all(user.get(key) == value for key, value in where.items())]

    def user(self, user_id: str) -> dict | None:
        response = self.admin.get(f"{self.base_url}/Users/{user_id}", timeout=10)
        if response.status_code == 404:
            return None
        assert response.ok, response.text
        return response.json()

    def members(self, group_id: str) -> list[str]:
        group = self._call("GET", f"/Groups/{group_id}").json()
        return [member["value"] for member in group.get("members", [])]

    def create_group(self, display_name: str) -> str:
        return self._call("POST", "/Groups", json={"schemas": [GROUP_SCHEMA],
                                                   "displayName": display_name}).json()["id"]

    def create_user(self, user_name: str) -> str:
        return self._call("POST", "/Users", json={"schemas": [USER_SCHEMA],
                                                  "userName": user_name}).json()["id"]

    def delete_user(self, user_id: str) -> None:
        self._call("DELETE", f"/Users/{user_id}")

    def delete_group(self, group_id: str) -> None:
        self._call("DELETE", f"/Groups/{group_id}")


@dataclass
class Answer:
    status: int
    body: str | bytes | dict = ""
    headers: dict = field(default_factory=dict)


class ScriptedTarget:
    """Answers scripted by (method, path prefix), each used once and in order; everything
    else goes to `upstream`, or gets a 404. `seen` lists the (method, path) it received."""

    def __init__(self, upstream: str = ""):
        self.upstream = upstream.rstrip("/")
        self.script: list[tuple[str, str, Answer]] = []
        self.seen: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,),
                                       daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def answer(self, method: str, path_prefix: str, *answers: Answer) -> None:
        with self.lock:
            self.script += [(method, path_prefix, answer) for answer in answers]

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)

    def _scripted(self, method: str, path: str) -> Answer | None:
        with self.lock:
            self.seen.append((method, path))
            for index, (wanted, prefix, answer) in enumerate(self.script):
                if wanted == method and path.startswith(prefix):
                    del self.script[index]
                    return answer
        return None

    def _forward(self, method: str, path: str, headers, body: bytes) -> Answer:
        if not self.upstream:
            return Answer(404, {"detail": f"Nothing at {path}", "status": "404"})
        passed = {key: value for key, value in headers.items()
                  if key.lower() in ("authorization", "content-type", "accept")}
        response = requests.request(method, f"{self.upstream}{path}", headers=passed,
                                    data=body or None, timeout=10)
        kept = {key: value for key, value in response.headers.items()
                if key.lower() in ("content-type", "location", "etag")}
        return Answer(response.status_code, response.content, kept)

    def _handler(self):
        target = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                answer = target._scripted(self.command, self.path) or target._forward(
                    self.command, self.path, self.headers, body)
                payload = answer.body
                headers = dict(answer.headers)
                if isinstance(payload, dict):
                    payload = json.dumps(payload)
                    headers.setdefault("Content-Type", "application/scim+json")
                if isinstance(payload, str):
                    payload = payload.encode()
                self.send_response(answer.status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

            def log_message(self, format, *args):  # noqa: A002 - the base class's name
                pass

        return Handler
