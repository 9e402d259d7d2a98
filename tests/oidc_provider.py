"""An OpenID Connect provider for the single sign-on tests: the real `oidc-provider-mock`.

`OidcProvider` runs the venv's console script on a free loopback port (plain http; the
portal's allauth fetches its discovery document, token and userinfo from it), with client
registration required, so that the portal's callback address is checked as a real provider
would. `register(redirect_uri)` registers the portal as a client, `person(sub, **claims)`
sets who can sign in, and `approve(authorize_url, sub)` is the person signing in on its page.
`apps(client)` is SOCIALACCOUNT_PROVIDERS for the portal, as portal.settings builds it from
the OIDC_* variables.
"""

import os
import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.scim_server import free_port

OIDC_PROVIDER_MOCK = Path(sys.executable).with_name("oidc-provider-mock")
PROVIDER_ID = "sso"


class OidcProvider:
    def __init__(self, *, log_path: Path):
        self.log_path = log_path
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self.http = requests.Session()
        self.http.trust_env = False

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> None:
        if not OIDC_PROVIDER_MOCK.exists():
            raise RuntimeError(f"{OIDC_PROVIDER_MOCK} is missing: install oidc-provider-mock.")
        for _ in range(3):
            if self._start(timeout):
                return
            self.port = free_port()
        raise RuntimeError(f"oidc-provider-mock found no free port:\n{self._log()}")

    def _log(self) -> str:
        return self.log_path.read_text()[-2000:] if self.log_path.exists() else ""

    def _start(self, timeout: float) -> bool:
        log = self.log_path.open("a")
        self.process = subprocess.Popen(
            [str(OIDC_PROVIDER_MOCK), "--host", "127.0.0.1", "--port", str(self.port),
             "--require-registration", "true"],
            stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "NO_COLOR": "1"})
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.process = None
                if "address already in use" in self._log().lower():
                    return False
                raise RuntimeError(f"oidc-provider-mock stopped at start:\n{self._log()}")
            try:
                if self.http.get(f"{self.issuer}/.well-known/openid-configuration",
                                 timeout=1).ok:
                    return True
            except requests.ConnectionError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"oidc-provider-mock did not answer on port {self.port} within "
                           f"{timeout} s:\n{self._log()}")

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    # -- the identity provider's administrator ----------------------------------------------

    def register(self, redirect_uri: str) -> dict:
        """The portal as a client of the provider: {"client_id", "client_secret", ...}. The
        secret is sent in the token request's body (allauth's choice when the discovery
        document names no method)."""
        response = self.http.post(f"{self.issuer}/oauth2/clients", timeout=10, json={
            "redirect_uris": [redirect_uri], "token_endpoint_auth_method": "client_secret_post"})
        assert response.status_code == 201, response.text
        return response.json()

    def person(self, sub: str, **claims) -> None:
        """Who can sign in as `sub`, with these claims (email, email_verified, name...)."""
        response = self.http.put(f"{self.issuer}/users/{sub}", json=claims, timeout=10)
        assert response.status_code == 204, response.text

    def approve(self, authorize_url: str, sub: str) -> str:
        """The person `sub` signs in on the provider's page; returns where it sends them (the
        portal's callback, with the code and the state)."""
        assert authorize_url.startswith(f"{self.issuer}/oauth2/authorize?"), authorize_url
        page = self.http.get(authorize_url, timeout=10)
        assert page.status_code == 200 and 'name="sub"' in page.text, page.text[:500]
        answer = self.http.post(authorize_url, data={"sub": sub}, allow_redirects=False,
                                timeout=10)
        assert answer.status_code == 302, answer.text[:500]
        return answer.headers["Location"]

    def apps(self, client: dict, *, name: str = "Single sign-on", match_claim: str = "email",
             external_id_claim: str = "sub") -> dict:
        return {"openid_connect": {"APPS": [{
            "provider_id": PROVIDER_ID, "name": name,
            "client_id": client["client_id"], "secret": client["client_secret"],
            "settings": {"server_url": self.issuer, "match_claim": match_claim,
                         "external_id_claim": external_id_claim},
        }]}}
