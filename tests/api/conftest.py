"""Fixtures for the Graph API tests: the world of tests.factories, callers with tokens, and
the three refusals every endpoint is tested for (no token, a read-only token, the manager of
another catalog)."""

from dataclasses import dataclass

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from governance.choices import ApiPermission, CatalogRole
from governance.services.api_tokens import api_client_create, personal_token_create
from tests.factories import CatalogFactory, UserFactory, role_holder

EM = "/v1.0/identityGovernance/entitlementManagement"


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def graph_client(token: str | None = None) -> APIClient:
    """A DRF test client sending `Authorization: Bearer <token>` (none without a token)."""
    client = APIClient()
    if token:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def person_client(user) -> APIClient:
    """A client acting as `user` with their own (delegated) token."""
    _token, raw = personal_token_create(user=user, name="tests")
    return graph_client(raw)


@dataclass
class Callers:
    """Who calls the API in the tests."""

    anonymous: APIClient   # no token
    reader: APIClient      # an API client with EntitlementManagement.Read.All
    writer: APIClient      # an API client with EntitlementManagement.ReadWrite.All
    owner: APIClient       # the world's catalog owner, with their own token
    stranger: APIClient    # owner of another catalog: sees nothing of the world's catalog
    member: APIClient      # the world's member, with no role anywhere


@pytest.fixture
def callers(world) -> Callers:
    admin = UserFactory(email="api.admin@access.example", is_superuser=True)
    _client, read = api_client_create(actor=admin, display_name="Reader",
                                      permissions=[ApiPermission.READ_ALL])
    _client, write = api_client_create(actor=admin, display_name="Writer",
                                       permissions=[ApiPermission.READ_WRITE_ALL])
    other_catalog = CatalogFactory(display_name="Elsewhere")
    stranger = role_holder(other_catalog, CatalogRole.OWNER, email="stranger@access.example")
    return Callers(anonymous=graph_client(), reader=graph_client(read),
                   writer=graph_client(write), owner=person_client(world.owner),
                   stranger=person_client(stranger), member=person_client(world.member))


def assert_graph_error(response, status: int, *words: str) -> dict:
    """A Graph error body with `status`, whose message contains each of `words`."""
    assert response.status_code == status, (response.status_code, response.content[:500])
    error = response.json()["error"]
    assert error["code"] and error["message"]
    for word in words:
        assert word in error["message"], (word, error["message"])
    return error


def assert_refused_three_ways(callers: Callers, method: str, url: str, body=None,
                              *, stranger_status: int = 404) -> None:
    """No token → 401; a read-only token → 403 on writes (200 on reads is the caller's to
    check); another catalog's owner → `stranger_status` (404: they may not know it exists)."""
    send = lambda client: getattr(client, method)(url, body, format="json") \
        if body is not None else getattr(client, method)(url)  # noqa: E731
    assert_graph_error(send(callers.anonymous), 401)
    if method != "get":
        assert_graph_error(send(callers.reader), 403, "EntitlementManagement.ReadWrite.All")
    assert_graph_error(send(callers.stranger), stranger_status)


def page_cost(client: APIClient, url: str, params: dict | None = None) -> tuple[int, int]:
    """(SQL queries, items) of one GET of a collection page. The call is made once before
    it is counted: a token's first use of the minute also records that it was used."""
    client.get(url, params or {})
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, params or {})
    assert response.status_code == 200, response.content[:500]
    return len(queries), len(response.json()["value"])


@pytest.fixture
def catalog_reader(world) -> APIClient:
    """A catalog reader of the world's catalog, with their own token: reads, never changes."""
    return person_client(role_holder(world.catalog, CatalogRole.READER,
                                     email="reader@access.example"))
