"""Each page costs a fixed number of queries, however many rows it lists."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from governance.choices import AllowedTargetScope
from governance.models import AccessPackage, AssignmentPolicy
from governance.services.approvals import stage_decide
from governance.services.requests import request_admin_add, request_submit
from tests.factories import GuestFactory, PackageFactory, UserFactory, add_stage, group_role


def _packages(world, count):
    """`count` packages open to all users, without approval, in the world's catalog."""
    packages = AccessPackage.objects.bulk_create(
        [AccessPackage(catalog=world.catalog, display_name=f"Bulk {n:04}")
         for n in range(count)])
    AssignmentPolicy.objects.bulk_create(
        [AssignmentPolicy(access_package=package, display_name="All",
                          allowed_target_scope=AllowedTargetScope.ALL_DIRECTORY_USERS,
                          is_approval_required_for_add=False) for package in packages])
    for package in packages[:3]:
        group_role(package, world.group)
    return packages


def _queries(client, url):
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured)


def _grow(world, kind, count):
    if kind == "packages":
        _packages(world, count)
    elif kind == "assignments":
        for package in _packages(world, count):
            request_admin_add(actor=world.owner, access_package_id=package.pk,
                              policy_id=package.policies.get().pk, target=world.requester)
    elif kind == "requests":
        for package in _packages(world, count):
            package.policies.update(is_approval_required_for_add=True)
            policy = package.policies.get()
            policy.stages.create(order=1)
            request_submit(requestor=world.requester, access_package_id=package.pk)
    elif kind == "approvals":
        package = PackageFactory(catalog=world.catalog, display_name="Approved often")
        policy = package.policies.create(
            display_name="Guests", allowed_target_scope=AllowedTargetScope.ALL_EXTERNAL_USERS,
            is_approval_required_for_add=True)
        add_stage(policy, world.approver)
        for n in range(count):
            # Each with a manager and a job title, which the Approvals page shows.
            guest = GuestFactory(email=f"bulk{n}@contoso.example",
                                 connected_organization=world.organization,
                                 manager=world.member, job_title="Auditor")
            request_submit(requestor=guest, access_package_id=package.pk)
    elif kind == "decisions":
        _grow(world, "approvals", count)
        for stage in world.approver.approval_stages.filter(state="inProgress")[:count]:
            stage_decide(stage_id=stage.pk, approver=world.approver, decision="Approve")


# (page, query string, what grows, who looks, queries: session and user included).
# The Overview's Access reviews section is one query more than before (8 and 7); its cost
# with growing reviews is pinned in test_reviews_pages.py.
CASES = [
    ("overview", "", "packages", "requester", 8),
    ("overview", "", "approvals", "approver", 7),
    ("package_list", "", "packages", "requester", 5),
    ("package_list", "?tab=active", "assignments", "requester", 4),
    ("package_list", "?tab=active&q=Bulk", "assignments", "requester", 4),
    ("request_history", "", "requests", "requester", 6),
    ("approval_list", "", "approvals", "approver", 4),
    ("approval_list", "?tab=history", "decisions", "approver", 4),
    ("team", "", "assignments", "manager", 3),
]


@pytest.mark.parametrize(("name", "query", "kind", "who", "expected"), CASES)
def test_page_queries_do_not_grow_with_rows(as_user, world, name, query, kind, who, expected):
    manager = UserFactory(email="manager@access.example")
    world.requester.manager = manager
    world.requester.save()
    person = {"requester": world.requester, "approver": world.approver,
              "manager": manager}[who]
    client = as_user(person)
    url = reverse(name) + query
    _grow(world, kind, 10)
    with_10 = _queries(client, url)
    _grow(world, kind, 490)
    with_500 = _queries(client, url)
    assert (with_10, with_500) == (expected, expected)


def _detail_urls(world):
    from tests.factories import delivered_assignment, submit_request

    assignment = delivered_assignment(world)
    # A second request waiting at stage 1 gives the approver something to open.
    pending = submit_request(world, requestor=GuestFactory(
        email="second@contoso.example", connected_organization=world.organization,
        manager=world.member, job_title="Auditor", department="Audit"))
    stage = pending.stages.get(order=1)
    return {
        "package": (world.requester, reverse("package_detail", args=[world.package.pk])),
        "extend": (world.requester, reverse("access_extend", args=[assignment.pk])),
        "remove": (world.requester, reverse("access_remove", args=[assignment.pk])),
        "approval": (world.approver, reverse("approval_detail", args=[stage.pk])),
    }


# Detail pages show one object: their cost must not depend on how much else exists.
DETAIL_QUERIES = {"package": 11, "extend": 4, "remove": 5, "approval": 4}


@pytest.mark.parametrize("page", sorted(DETAIL_QUERIES))
def test_detail_page_queries_are_fixed(as_user, world, page):
    person, url = _detail_urls(world)[page]
    client = as_user(person)
    with_few = _queries(client, url)
    _grow(world, "packages", 200)
    assert (with_few, _queries(client, url)) == (DETAIL_QUERIES[page], DETAIL_QUERIES[page])
