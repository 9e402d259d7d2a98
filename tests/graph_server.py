"""A Microsoft Graph-shaped HTTPS server on loopback, for testing the Entra connector with
real msal: a self-signed certificate made at start (for 127.0.0.1), the OpenID discovery
document and token endpoint of a custom authority, and Graph v1.0 (tests/graph_directory.py).

    server = GraphServer(client_id="portal-app", client_secret="s3cret").start()
    server.authority        # https://127.0.0.1:<port>/<tenant id>
    server.graph_url        # https://127.0.0.1:<port>/v1.0
    server.ca_path          # the certificate, for settings.CONNECTOR_CA_BUNDLE
    server.fail("/v1.0/users", status=429, retry_after=1)   # the next call to that path
    server.fail("/v1.0/users", garbage=True, times=2)       # the next two: not JSON
"""

import base64
import datetime
import ipaddress
import json
import ssl
import tempfile
import threading
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.graph_directory import Directory, GraphError

GARBAGE = b"<html><body><h1>502 Bad Gateway</h1>nginx</body></html>"


def write_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (IP SAN) and localhost; (cert, key) paths."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    public = key.public_key()
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=7))
        .add_extension(x509.SubjectAlternativeName([
            x509.IPAddress(ipaddress.IPv4Address("127.0.0.1")), x509.DNSName("localhost")]),
            critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, key_cert_sign=True, content_commitment=False,
            key_encipherment=False, data_encipherment=False, key_agreement=False,
            crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public),
                       critical=False)
        .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "graph.pem", directory / "graph.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@dataclass
class Fault:
    path: str
    method: str | None
    status: int
    retry_after: str | None
    garbage: bool
    times: int


class GraphServer:
    def __init__(self, *, client_id: str = "portal-app", client_secret: str = "s3cret",
                 tenant_name: str = "Contoso"):
        self.client_id, self.client_secret = client_id, client_secret
        self.tenant_id = str(uuid.uuid4())
        self.tenant_name = tenant_name
        self._lock = threading.Lock()
        self._httpd = self._thread = self._tmp = None
        self.ca_path: Path | None = None

    # -- life -------------------------------------------------------------------------------

    def start(self) -> "GraphServer":
        self._tmp = tempfile.TemporaryDirectory(prefix="graph-server-")
        self.ca_path, key_path = write_certificate(Path(self._tmp.name))
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(self.ca_path, key_path)
        self._httpd = _TLSServer(("127.0.0.1", 0), _Handler, tls=tls, graph=self)
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="graph-server",
                                        daemon=True)
        self._thread.start()
        self.reset()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)
        self._tmp.cleanup()

    def reset(self) -> None:
        """An empty tenant, no faults, no tokens, an empty log; the same credentials."""
        with self._lock:
            self.directory = Directory(self.origin, self.tenant_id, self.tenant_name)
            self.faults: list[Fault] = []
            self.tokens: set[str] = set()
            self.token_requests = 0
            self.calls: list[tuple[str, str]] = []  # (method, path) of every Graph call, faults too

    @property
    def origin(self) -> str:
        return f"https://127.0.0.1:{self._httpd.server_address[1]}"

    @property
    def authority(self) -> str:
        return f"{self.origin}/{self.tenant_id}"

    @property
    def graph_url(self) -> str:
        return f"{self.origin}/v1.0"

    # -- scripting --------------------------------------------------------------------------

    def fail(self, path: str, *, status: int | None = None, retry_after: float | None = None,
             garbage: bool = False, times: int = 1, method: str | None = None) -> None:
        """The next `times` calls to `path` (e.g. "/v1.0/users"; with `method`, only those)
        answer `status` (429 by default with `retry_after`, else 503), with a Retry-After
        header when `retry_after` is given; with `garbage`, 200 and an HTML page."""
        if status is None:
            status = 200 if garbage else 429 if retry_after is not None else 503
        with self._lock:
            self.faults.append(Fault(path, method, status,
                                     None if retry_after is None else f"{retry_after:g}",
                                     garbage, times))

    def calls_to(self, method: str, path: str) -> int:
        return self.calls.count((method, path))

    # -- answering --------------------------------------------------------------------------

    def handle(self, method: str, target: str, headers, raw: bytes):
        """(status, headers, body bytes) for one request."""
        parts = urlsplit(target)
        path, query = unquote(parts.path), dict(parse_qsl(parts.query))
        with self._lock:
            if path.startswith("/v1.0/"):
                self.calls.append((method, path))
            fault = self._take_fault(method, path)
            if fault is not None:
                return self._fault_answer(fault)
            try:
                if path.startswith("/v1.0/"):
                    self._authenticate(headers)
                    body = _json_body(raw)
                    status, answer = self.directory.route(method, path[len("/v1.0"):], query,
                                                          body)
                elif path == f"/{self.tenant_id}/v2.0/.well-known/openid-configuration":
                    status, answer = 200, self._openid_configuration()
                elif path == f"/{self.tenant_id}/oauth2/v2.0/token" and method == "POST":
                    status, answer = self._token(headers, dict(parse_qsl(raw.decode())))
                else:
                    raise GraphError(404, "NotFound", f"No route for {method} {path}.")
            except GraphError as exc:
                status, answer = exc.status, exc.body()
        if answer is None:
            return status, {}, b""
        return status, {"Content-Type": "application/json"}, json.dumps(answer).encode()

    def _take_fault(self, method: str, path: str) -> Fault | None:
        for fault in self.faults:
            if fault.path == path and fault.method in (None, method) and fault.times > 0:
                fault.times -= 1
                return fault
        return None

    @staticmethod
    def _fault_answer(fault: Fault):
        headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
        if fault.garbage:
            return fault.status, headers | {"Content-Type": "text/html"}, GARBAGE
        code = "TooManyRequests" if fault.status == 429 else "ServiceUnavailable"
        message = ("Too many requests; try again later." if fault.status == 429 else
                   "The service is temporarily unavailable.")
        body = {"error": {"code": code, "message": message}}
        return fault.status, headers | {"Content-Type": "application/json"}, \
            json.dumps(body).encode()

    def _authenticate(self, headers) -> None:
        scheme, _, token = (headers.get("Authorization") or "").partition(" ")
        if scheme != "Bearer" or token not in self.tokens:
            raise GraphError(401, "InvalidAuthenticationToken",
                             "Access token is empty." if not token else
                             "Access token validation failure. Invalid audience.")

    def _openid_configuration(self) -> dict:
        base = f"{self.origin}/{self.tenant_id}"
        return {"token_endpoint": f"{base}/oauth2/v2.0/token",
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "issuer": f"{base}/v2.0", "jwks_uri": f"{base}/discovery/v2.0/keys",
                "token_endpoint_auth_methods_supported": ["client_secret_post",
                                                          "client_secret_basic"],
                "response_types_supported": ["code", "id_token", "token"],
                "tenant_region_scope": "EU"}

    def _token(self, headers, form: dict[str, str]):
        self.token_requests += 1
        client_id, secret = form.get("client_id"), form.get("client_secret")
        scheme, _, encoded = (headers.get("Authorization") or "").partition(" ")
        if scheme == "Basic":
            client_id, _, secret = base64.b64decode(encoded).decode().partition(":")
            client_id, secret = unquote(client_id.replace("+", " ")), \
                unquote(secret.replace("+", " "))
        trace = f"Trace ID: {uuid.uuid4()} Correlation ID: {uuid.uuid4()} " \
                f"Timestamp: {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M:%SZ}"
        if form.get("grant_type") != "client_credentials":
            return 400, {"error": "unsupported_grant_type", "error_description":
                         f"AADSTS70003: The app requested an unsupported grant type. {trace}"}
        if client_id != self.client_id:
            return 400, {"error": "unauthorized_client", "error_codes": [700016],
                         "error_description": f"AADSTS700016: Application with identifier "
                         f"'{client_id}' was not found in the directory '{self.tenant_name}'. "
                         f"{trace}"}
        if secret != self.client_secret:
            return 401, {"error": "invalid_client", "error_codes": [7000215],
                         "error_description": "AADSTS7000215: Invalid client secret provided. "
                         "Ensure the secret being sent in the request is the client secret "
                         "value, not the client secret ID, for a secret added to app "
                         f"'{client_id}'. {trace}"}
        if form.get("scope") != f"{self.origin}/.default":
            return 400, {"error": "invalid_scope", "error_description":
                         f"AADSTS1002012: The provided value for scope {form.get('scope')} "
                         f"is not valid. {trace}"}
        token = f"graph-token-{uuid.uuid4()}"
        self.tokens.add(token)
        return 200, {"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599,
                     "access_token": token}


def _json_body(raw: bytes) -> dict | None:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        raise GraphError(400, "BadRequest", "Unable to read JSON request payload.") from None


class _TLSServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address, handler, *, tls: ssl.SSLContext, graph: GraphServer):
        self.tls, self.graph = tls, graph
        super().__init__(address, handler)

    def finish_request(self, request, client_address):
        # The handshake runs in the connection's own thread, not in the accepting one.
        try:
            connection = self.tls.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        try:
            self.RequestHandlerClass(connection, client_address, self)
        finally:
            connection.close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go in two writes: no delayed ACK wait

    def _serve(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        status, headers, body = self.server.graph.handle(self.command, self.path, self.headers,
                                                         raw)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PATCH = do_DELETE = _serve

    def log_message(self, format, *args):
        pass
