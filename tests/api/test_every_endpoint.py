"""Every operation of the OpenAPI document (so every endpoint, as it is added) refuses a call
without a token (401, Graph's error body) and, when it writes, a read-only token (403); the
stranger (another catalog's owner) gets a 404 from every GET that names something of the
world's catalog, which an API client reads. Each endpoint's own tests check the rest of what
each caller may do."""

import re

import pytest

from governance.api.schema import build_document
from governance.models import (
    AccessPackage,
    AssignmentRequest,
    Resource,
    User,
)
from tests.api.conftest import assert_graph_error
from tests.factories import delivered_assignment

WRITES = {"post", "patch", "put", "delete"}


def operations():
    for path, item in build_document()["paths"].items():
        for method in item:
            if method in WRITES | {"get"}:
                yield path, method


OPERATIONS = list(operations())


def concrete(path: str, ids: dict) -> str:
    """The path with each {parameter} replaced by an id of the world's catalog."""
    return re.sub(r"\{(\w+)\}", lambda m: str(ids.get(m.group(1), 1)), path)


# Path parameters naming something inside a catalog: another catalog's owner may not know
# that it exists.
CATALOG_OWNED = {"catalog_id", "package_id", "other_id", "policy_id", "request_id",
                 "approval_id", "stage_id", "resource_id", "assignment_id", "scope_id"}


@pytest.fixture
def ids(world):
    assignment = delivered_assignment(world)
    request = assignment.requests.get()
    return {
        "catalog_id": world.catalog.pk, "package_id": world.package.pk,
        "other_id": world.package.pk, "policy_id": world.policy.pk,
        "request_id": request.pk, "approval_id": request.pk,
        "stage_id": request.stages.get(order=1).pk, "assignment_id": assignment.pk,
        "resource_id": Resource.objects.filter(catalog=world.catalog).first().pk,
        "scope_id": world.package.role_scopes.first().pk,
        "organization_id": world.organization.pk, "group_id": world.group.pk,
        "user_id": world.member.pk, "sponsor_id": world.owner.pk,
    }


def test_the_document_lists_the_issues_endpoints():
    paths = {path for path, _ in OPERATIONS}
    for needed in ("catalogs", "accessPackages", "assignmentPolicies", "assignmentRequests",
                   "assignments", "resources", "resourceRequests", "connectedOrganizations",
                   "settings", "accessPackageAssignmentApprovals"):
        assert any(f"/entitlementManagement/{needed}" in path for path in paths), needed
    assert any(path.startswith("/v1.0/identityGovernance/accessReviews/definitions")
               for path in paths)
    assert {"/v1.0/users", "/v1.0/groups", "/v1.0/users/{user_id}/manager/$ref",
            "/v1.0/users/{user_id}/sponsors/{sponsor_id}/$ref"} <= paths
    assert len(OPERATIONS) > 60


@pytest.mark.parametrize(("path", "method"), OPERATIONS)
def test_no_token_is_401(callers, ids, path, method):
    url = concrete(path, ids)
    response = getattr(callers.anonymous, method)(url, {}, format="json") \
        if method in WRITES else callers.anonymous.get(url)
    assert_graph_error(response, 401)
    assert response["WWW-Authenticate"] == "Bearer"


def needed_to_write(path: str) -> str:
    """The permission a write names when it is refused: the directory's people take Graph's
    User.ReadWrite.All, everything else entitlement management's."""
    return "User.ReadWrite.All" if path.startswith("/v1.0/users/") \
        else "EntitlementManagement.ReadWrite.All"


@pytest.mark.parametrize(("path", "method"), [op for op in OPERATIONS if op[1] in WRITES])
def test_a_read_only_token_cannot_write(callers, ids, path, method):
    before = (AccessPackage.objects.count(), AssignmentRequest.objects.count(),
              sorted(User.objects.values_list("pk", "is_active", "manager_id", "job_title")))
    response = getattr(callers.reader, method)(concrete(path, ids), {}, format="json")
    assert_graph_error(response, 403, needed_to_write(path))
    assert (AccessPackage.objects.count(), AssignmentRequest.objects.count(),
            sorted(User.objects.values_list("pk", "is_active", "manager_id",
                                            "job_title"))) == before


@pytest.mark.parametrize(("path", "method"), [
    op for op in OPERATIONS
    if op[1] == "get" and CATALOG_OWNED & set(re.findall(r"\{(\w+)\}", op[0]))])
def test_another_catalogs_owner_finds_nothing_of_this_catalog(callers, ids, path, method):
    response = callers.stranger.get(concrete(path, ids))
    assert_graph_error(response, 404)
    # The readers of the catalog (an API client) do find it.
    assert callers.reader.get(concrete(path, ids)).status_code == 200, path
