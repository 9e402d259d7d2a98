"""Fixtures for the inbound SCIM tests: a provisioning client, and a Django test client that
sends its token."""

import json

import pytest
from django.test import Client

from governance.services.provisioning_clients import provisioning_client_create

SCIM = "/scim/v2"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


class ScimCaller:
    """Calls /scim/v2 with a bearer token; `json` answers are decoded."""

    def __init__(self, token: str | None):
        self.client = Client()
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def call(self, method: str, path: str, body=None, **headers):
        data = json.dumps(body) if body is not None else None
        return getattr(self.client, method)(
            f"{SCIM}{path}", data=data, content_type="application/scim+json",
            headers={**self.headers, **headers})

    def get(self, path, **headers):
        return self.call("get", path, **headers)

    def post(self, path, body):
        return self.call("post", path, body)

    def put(self, path, body):
        return self.call("put", path, body)

    def patch(self, path, *operations):
        return self.call("patch", path, {"schemas": [PATCH], "Operations": list(operations)})

    def delete(self, path):
        return self.call("delete", path)


@pytest.fixture
def okta(db):
    client, token = provisioning_client_create(actor=None, display_name="Okta", system=True)
    caller = ScimCaller(token)
    caller.record = client
    caller.token = token
    return caller


def user_body(user_name: str, **extra) -> dict:
    body = {"schemas": [USER, ENTERPRISE], "userName": user_name,
            "name": {"givenName": "Ada", "familyName": "Lovelace"},
            "emails": [{"value": user_name, "primary": True, "type": "work"}],
            "active": True}
    body.update(extra)
    return body
