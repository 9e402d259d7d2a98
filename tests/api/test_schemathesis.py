"""Every operation of the OpenAPI document, fuzzed in-process with schemathesis: no 5xx.

The document is generated when the test runs, so every endpoint present then is covered. The
requests go through the real WSGI stack (middleware, authentication, exception handler) with
an API client's ReadWrite token, over the world of tests.factories; path ids are drawn from
the ids that exist as well as from what schemathesis generates, so that real objects are hit.
Each request runs in a savepoint rolled back afterwards: every example sees the same world.
Derandomized, so that a failure found once is found again.
"""

import traceback

import schemathesis
from django.apps import apps
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.core import NOT_SET
from schemathesis.generation import GenerationMode

from governance.api.schema import build_document
from governance.choices import ApiPermission
from governance.services.api_tokens import api_client_create
from governance.services.requests import request_submit
from tests.factories import build_world, delivered_assignment, member_package
from tests.review_helpers import review_by_hand, reviews_on

MAX_EXAMPLES = 15  # per operation, with data that fits the document
NEGATIVE_EXAMPLES = 8  # per operation with a body, with data that does not
FUNCTION_VALUES = ["target", "approver", "allowedRequestor"]  # filterByCurrentUser(on='…')
# Path parameters whose name does not say their model (Graph's approval is the request).
MODEL_OF = {"approval": "assignmentrequest", "other": "accesspackage", "scope": "rolescope",
            "organization": "connectedorganization", "definition": "accessreview",
            "instance": "accessreview", "decision": "reviewdecision"}


def seed_world():
    """The world of the factories, with a delivered assignment, a request waiting for
    approval and an access review in progress, so that every kind of path id exists."""
    world = build_world()
    assignment = delivered_assignment(world)
    request_submit(requestor=world.member, access_package_id=member_package(world).pk)
    reviews_on(world.policy)
    review_by_hand(world.policy, [assignment], whole_review=[world.owner])


class ExistingIds:
    """Ids that exist, for a path parameter: those of its model when its name says which
    (catalog_id: the catalogs), else those of every model."""

    def __init__(self, limit: int = 25):
        self.by_model = {
            model.__name__.lower(): [str(pk) for pk in model.objects.order_by("pk")
                                     .values_list("pk", flat=True)[:limit]]
            for model in apps.get_app_config("governance").get_models()}
        self.every = sorted({pk for ids in self.by_model.values() for pk in ids})

    def __call__(self, name: str) -> list[str]:
        if not name.endswith("_id"):
            return FUNCTION_VALUES
        stem = name.removesuffix("_id").replace("_", "")
        stem = MODEL_OF.get(stem, stem)
        ids = sorted({pk for model, pks in self.by_model.items() if stem in model for pk in pks})
        return ids or self.every


class ServerErrors:
    """Tracebacks of the exceptions Django turned into 500s, by request."""

    def __init__(self):
        self.last = None

    def __call__(self, sender, request=None, **kwargs):
        self.last = traceback.format_exc()


def describe(case, response, trace) -> str:
    return "\n".join([
        f"{case.operation.label} answered {response.status_code}",
        f"  path parameters: {case.path_parameters!r}",
        f"  query: {case.query!r}",
        f"  body: {'none' if case.body is NOT_SET else repr(case.body)}",
        f"  reproduce: {case.as_curl_command()}",
        "  " + (trace or "(no traceback captured)").strip().replace("\n", "\n  "),
    ])


def test_no_operation_answers_a_server_error(db):
    seed_world()
    _client, token = api_client_create(actor=None, display_name="Schemathesis",
                                       permissions=[ApiPermission.READ_WRITE_ALL,
                                                    ApiPermission.USER_READ_WRITE_ALL],
                                       system=True)
    schema = schemathesis.openapi.from_dict(build_document())
    app, headers = WSGIHandler(), {"Authorization": f"Bearer {token}"}
    ids = ExistingIds()
    failures, statuses = {}, {}
    caught = ServerErrors()

    def check(operation, mode=GenerationMode.POSITIVE, examples=MAX_EXAMPLES):
        @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
                  phases=[Phase.explicit, Phase.generate],
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy(mode), data=st.data())
        def run(case, data):
            for name, generated in list((case.path_parameters or {}).items()):
                case.path_parameters[name] = data.draw(
                    st.sampled_from([*ids(name), generated]), label=name)
            caught.last = None
            with transaction.atomic():
                response = case.call(app=app, base_url="http://testserver", headers=headers)
                transaction.set_rollback(True)
            if mode == GenerationMode.POSITIVE:  # negative cases may spoil the token
                statuses.setdefault(operation.label, set()).add(response.status_code)
            try:
                case.validate_response(response, checks=[not_a_server_error])
            except (Exception, BaseExceptionGroup):
                failures.setdefault(operation.label, describe(case, response, caught.last))

        run()

    # As Django's test client does: the WSGI handler must not close the test's connection.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    signals.got_request_exception.connect(caught)
    try:
        for result in schema.get_all_operations():
            operation = result.ok()
            check(operation)
            if "requestBody" in operation.definition.raw:
                check(operation, GenerationMode.NEGATIVE, NEGATIVE_EXAMPLES)
    finally:
        signals.got_request_exception.disconnect(caught)
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)

    assert len(statuses) == sum(len(item) for item in schema.raw_schema["paths"].values())
    # The token worked, and the collections answered with data at least once.
    assert not [label for label, seen in statuses.items() if 401 in seen]
    lists = [f"GET {path}" for path, item in schema.raw_schema["paths"].items()
             if "{" not in path and "filterByCurrentUser" not in path
             and "CollectionResponse" in str(item.get("get", {}).get("responses", {}))]
    assert lists and not [label for label in lists if 200 not in statuses[label]]
    assert not failures, f"{len(failures)} operation(s) answered 5xx:\n\n" + "\n\n".join(
        failures.values())
