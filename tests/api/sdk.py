"""Microsoft's own Python SDK (msgraph-sdk, on kiota) pointed at the live test server.

``graph_service_client(base_url, token)`` gives a ``msgraph.GraphServiceClient`` whose every
request carries ``Authorization: Bearer <token>`` and goes to ``<base_url>/v1.0``, through the
SDK's own middleware (retries, redirects, telemetry headers) but without proxies or
REQUESTS_CA_BUNDLE (loopback). Every exchange is kept in ``client.exchanges`` so that a failing
step can name the exact request the SDK sent and the answer it got.

The SDK is asynchronous; the tests are not. ``run(coro)`` runs one call to completion on a
fresh event loop (``asyncio.run``); keep-alive is off, so that no pooled connection outlives
the loop it was opened on.
"""

import asyncio
import concurrent.futures
import json
import os
import warnings
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from kiota_abstractions.authentication import (
    AccessTokenProvider,
    AllowedHostsValidator,
    BaseBearerTokenAuthenticationProvider,
)
from kiota_abstractions.base_request_configuration import RequestConfiguration
from kiota_http.middleware.options import UrlReplaceHandlerOption
from msgraph import GraphRequestAdapter, GraphServiceClient
from msgraph_core import APIVersion, GraphClientFactory
from msgraph_core.middleware.options import GraphTelemetryHandlerOption

from governance.choices import ApiPermission
from governance.services.api_tokens import api_client_create, personal_token_create

# The tests read the database between SDK calls, outside any event loop; Django's guard would
# still refuse if a loop were left running in this thread (tests/conftest.py sets it too).
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

LOOPBACK = ["127.0.0.1", "localhost"]

# The generated request builders define deprecated configuration classes that warn as their
# module is imported: the ones the tests name are imported here, quietly, and re-exported (the
# tests mark the same warnings as expected for the builders the SDK imports during a call).
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from msgraph.generated.identity_governance.entitlement_management.assignments.assignments_request_builder import (  # noqa: E501
        AssignmentsRequestBuilder,
    )
    from msgraph.generated.identity_governance.entitlement_management.catalogs.catalogs_request_builder import (  # noqa: E501
        CatalogsRequestBuilder,
    )
    from msgraph.generated.identity_governance.entitlement_management.catalogs.item.resource_roles.resource_roles_request_builder import (  # noqa: E501
        ResourceRolesRequestBuilder,
    )
    from msgraph.generated.identity_governance.entitlement_management.catalogs.item.resources.resources_request_builder import (  # noqa: E501
        ResourcesRequestBuilder,
    )

# Re-exported for the tests (imported above without their import-time warnings).
BUILDERS = (AssignmentsRequestBuilder, CatalogsRequestBuilder, ResourceRolesRequestBuilder,
            ResourcesRequestBuilder)

# The marks of a test driving the live server through the SDK: PostgreSQL and Redis, a
# transactional database (the server answers from its own thread), and quiet about the SDK's
# request builders warning about their own deprecated classes.
SDK_TEST_MARKS = [
    pytest.mark.services, pytest.mark.django_db(transaction=True),
    pytest.mark.filterwarnings("ignore:GetQueryParameters is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:This class is deprecated:DeprecationWarning"),
]


class StaticTokenProvider(AccessTokenProvider):
    """Our bearer token, for the loopback hosts only (the SDK asks per request)."""

    def __init__(self, token: str, hosts: list[str] | None = None) -> None:
        self.token = token
        self.validator = AllowedHostsValidator(hosts or LOOPBACK)

    async def get_authorization_token(self, uri: str,
                                      additional_authentication_context=None) -> str:
        return self.token if self.validator.is_url_host_valid(uri) else ""

    def get_allowed_hosts_validator(self) -> AllowedHostsValidator:
        return self.validator


@dataclass
class Exchange:
    """One HTTP request the SDK sent and the response it got."""

    method: str
    url: str
    body: str
    status: int | None = None
    response: str = ""

    def __str__(self) -> str:
        lines = [f"{self.method} {self.url}"]
        if self.body:
            lines.append(f"  body: {self.body}")
        lines.append(f"  -> {self.status} {self.response[:1500]}")
        return "\n".join(lines)


@dataclass
class Recorder:
    """httpx event hooks that keep every exchange (requests and responses, with bodies)."""

    exchanges: list[Exchange] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)  # see call()

    async def on_request(self, request: httpx.Request) -> None:
        body = request.content.decode("utf-8", "replace") if request.content else ""
        self.exchanges.append(Exchange(request.method, str(request.url), body))

    async def on_response(self, response: httpx.Response) -> None:
        await response.aread()
        exchange = next((e for e in reversed(self.exchanges)
                         if e.status is None and e.url == str(response.request.url)), None)
        if exchange is None:
            return
        exchange.status = response.status_code
        exchange.response = response.text

    def last(self, count: int = 1) -> str:
        return "\n".join(str(e) for e in self.exchanges[-count:])


def _http_client(recorder: Recorder) -> httpx.AsyncClient:
    client = httpx.AsyncClient(
        trust_env=False, timeout=httpx.Timeout(30.0),
        limits=httpx.Limits(max_keepalive_connections=0),
        event_hooks={"request": [recorder.on_request], "response": [recorder.on_response]})
    options = {
        UrlReplaceHandlerOption.get_key(): UrlReplaceHandlerOption(
            enabled=True, replacement_pairs={"/users/me-token-to-replace": "/me"}),
        GraphTelemetryHandlerOption.get_key(): GraphTelemetryHandlerOption(
            api_version=APIVersion.v1),
    }
    return GraphClientFactory.create_with_default_middleware(client=client, options=options)


def graph_service_client(base_url: str, token: str) -> GraphServiceClient:
    """A GraphServiceClient for `<base_url>/v1.0` that authenticates with `token`.

    `client.recorder` keeps the exchanges (see Recorder).
    """
    recorder = Recorder()
    auth = BaseBearerTokenAuthenticationProvider(StaticTokenProvider(token))
    adapter = GraphRequestAdapter(auth, client=_http_client(recorder))
    adapter.base_url = base_url.rstrip("/") + "/v1.0"  # before the client reads it
    client = GraphServiceClient(request_adapter=adapter)
    client.recorder = recorder
    return client


def run(coro) -> Any:
    """Run one SDK call (a coroutine) to completion, on a fresh event loop.

    Playwright's sync API (the browser tests, which may run earlier in the same session)
    leaves an event loop running in the main thread, where asyncio.run() refuses to start
    another: the call then runs on a loop of its own in a worker thread. The SDK only speaks
    HTTP, so nothing of Django's crosses the thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def api_client_token(name: str = "SDK tests", *, write: bool = True) -> tuple[Any, str]:
    """(principal, token) of a new API client: a service principal acting as a global
    administrator, with EntitlementManagement.ReadWrite.All (or Read.All)."""
    permission = ApiPermission.READ_WRITE_ALL if write else ApiPermission.READ_ALL
    client, token = api_client_create(actor=None, display_name=name,
                                      permissions=[permission], system=True)
    return client.principal, token


def person_token(user, name: str = "SDK tests") -> str:
    """A personal token acting as `user`."""
    _token, raw = personal_token_create(user=user, name=name)
    return raw


def query(builder_class, name: str, **options) -> RequestConfiguration:
    """Query options as the docs' Python snippets write them: RequestConfiguration(
    query_parameters=<Builder>.<Builder>GetQueryParameters(filter=…, expand=[…]))."""
    parameters = getattr(builder_class, f"{name}GetQueryParameters")(**options)
    return RequestConfiguration(query_parameters=parameters)


def call(client: GraphServiceClient, coro, what: str) -> Any:
    """Run one SDK call; if it fails, fail the test naming the step and the exchange. Answers
    with properties Graph v1.0 does not define are noted (see assert_graph_v1_properties)."""
    before = len(client.recorder.exchanges)
    try:
        result = run(coro)
    except Exception as exc:  # the SDK's ODataError/APIError, or a parse error
        sent = "\n".join(str(e) for e in client.recorder.exchanges[before:]) or "(nothing sent)"
        raise AssertionError(f"{what} failed: {exc!r}\n{sent}") from exc
    unknown = unknown_properties(result)
    if unknown:
        client.recorder.unknown.append(f"{what}: {', '.join(unknown)}")
    return result


def assert_graph_v1_properties(*clients: GraphServiceClient) -> None:
    """No answer that `call` read had a property that Graph v1.0 does not define."""
    unknown = [line for client in clients for line in client.recorder.unknown]
    assert not unknown, "Properties Graph v1.0 does not define:\n" + "\n".join(unknown)


def describe(client: GraphServiceClient, count: int = 3) -> str:
    """The last exchanges of `client`, for assertion messages."""
    return client.recorder.last(count)


def body_of(exchange: Exchange) -> dict:
    return json.loads(exchange.body) if exchange.body else {}


def unknown_properties(value, path: str = "") -> list[str]:
    """Properties of a parsed SDK object (and the objects inside it) that msgraph v1.0 does not
    define: kiota keeps them in `additional_data`. OData annotations ("@odata.…") are fine."""
    found = []
    if isinstance(value, list):
        for index, item in enumerate(value):
            found += unknown_properties(item, f"{path}[{index}]")
        return found
    extra = getattr(value, "additional_data", None)
    if extra is None or not hasattr(value, "get_field_deserializers"):
        return found
    found += [f"{path}.{key}".lstrip(".") for key in extra if "@" not in key]
    for name in getattr(value, "__dataclass_fields__", {}):
        if name not in ("additional_data", "backing_store"):
            found += unknown_properties(getattr(value, name), f"{path}.{name}")
    return found
