"""An OpenID Connect provider for the single sign-on tests: the real `oidc-provider-mock`.

`OidcProvider` runs the venv's console script on a free loopback port (plain http; the
portal's allauth fetches its discovery document, token and userinfo from it), with client
registration required, so that the portal's callback address is checked as a real provider
would. `register(redirect_uri)` registers the portal as a client, `person(sub, **claims)`
sets who can sign in, and `approve(authorize_url, sub)` is the person signing in on its page.
`apps(client)` is SOCIALACCOUNT_PROVIDERS for the portal, as portal.settings builds it from
the OIDC_* variables.
"""

import sys
from pathlib import Path

import requests

from tests.loopback_process import LoopbackProcess

OIDC_PROVIDER_MOCK = Path(sys.executable).with_name("oidc-provider-mock")
PROVIDER_ID = "sso"


class OidcProvider(LoopbackProcess):
    name = "oidc-provider-mock"
    executable = OIDC_PROVIDER_MOCK
    ready_path = "/.well-known/openid-configuration"

    def __init__(self, *, log_path: Path):
        super().__init__(log_path=log_path)
        self.http = requests.Session()
        self.http.trust_env = False

    @property
    def issuer(self) -> str:
        return self.base_url

    def command(self) -> list[str]:
        return [str(OIDC_PROVIDER_MOCK), "--host", "127.0.0.1", "--port", str(self.port),
                "--require-registration", "true"]

    def start(self, timeout: float = 20.0) -> None:
        super().start(timeout)

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
