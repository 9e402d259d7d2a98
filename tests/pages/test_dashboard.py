"""A catalog's dashboard: the right numbers for a world built through the services, only for
people who may read the catalog, in a fixed number of queries."""

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from governance.choices import CatalogRole, Decision, DeliveryState, GlobalRole
from governance.models import (
    CatalogRoleAssignment,
    GlobalRoleAssignment,
    RoleDelivery,
    User,
)
from governance.selectors.dashboard import catalog_dashboard
from governance.services.approvals import stage_decide
from governance.services.delivery import deliveries_process
from governance.services.requests import request_admin_add
from tests.factories import (
    CatalogFactory,
    GuestFactory,
    PackageFactory,
    PolicyFactory,
    UserFactory,
    group_role,
    open_package,
    role_holder,
    submit_request,
)

# Wednesday 17 June 2026, noon UTC: "now" for every test here. Its week began on 15 June.
NOW = datetime(2026, 6, 17, 12, 0, tzinfo=UTC)


def _at(moment):
    return time_machine.travel(moment, tick=False)


def _request(world, guest, submitted, decisions):
    """`guest` asks for the world's package at `submitted`; stage n is decided after
    decisions[n] (a timedelta from submission), approving unless it is ("deny", delay)."""
    with _at(submitted):
        request = submit_request(world, requestor=guest)
    approvers = [world.approver, world.second_approver]
    for order, step in enumerate(decisions, start=1):
        decision, delay = (Decision.DENY, step[1]) if isinstance(step, tuple) else \
            (Decision.APPROVE, step)
        with _at(submitted + delay):
            stage_decide(stage_id=request.stages.get(order=order).pk,
                         approver=approvers[order - 1], decision=decision)
            deliveries_process()
    request.refresh_from_db()
    return request


@pytest.fixture
def built(world):
    """Two approved requests, one pending, one old and denied; a direct assignment; a failed
    delivery; and another catalog whose rows must not count."""

    def guest(name):
        return GuestFactory(email=f"{name}@contoso.example",
                            connected_organization=world.organization)

    # Approved 5 hours after submission; its assignment ends on 7 July.
    five_hours = _request(world, world.requester, NOW - timedelta(days=10),
                          [timedelta(hours=2), timedelta(hours=5)])
    # Approved 2 days after submission; its assignment ends on 16 July, the 30th day.
    two_days = _request(world, guest("bea"), NOW - timedelta(days=3),
                        [timedelta(days=1), timedelta(days=2)])
    # Submitted yesterday, waiting for stage 1.
    with _at(NOW - timedelta(days=1)):
        pending = submit_request(world, requestor=guest("carl"))
    # Thirteen weeks ago, denied: outside the weekly chart and never approved.
    _request(world, guest("dora"), NOW - timedelta(weeks=13), [("deny", timedelta(hours=1))])
    # A direct assignment: not a request people make; it ends just after the 30 days.
    package, policy = open_package(world)
    with _at(NOW):
        request_admin_add(actor=world.owner, access_package_id=package.pk, policy_id=policy.pk,
                          target=world.member)
        deliveries_process()
    # One role of the 5-hour assignment failed for good.
    RoleDelivery.objects.filter(pk=five_hours.assignment.deliveries.first().pk).update(
        state=DeliveryState.FAILED, last_error="Group not found")
    # Another catalog, busy this week: none of it counts for Projects.
    other = CatalogFactory(display_name="Zulu")
    other_package = PackageFactory(catalog=other, display_name="Zulu package")
    group_role(other_package, world.other_group)
    PolicyFactory(access_package=other_package)
    from governance.services.requests import request_submit

    with _at(NOW - timedelta(hours=1)):
        request_submit(requestor=world.member, access_package_id=other_package.pk)
        deliveries_process()
    return {"five_hours": five_hours, "two_days": two_days, "pending": pending,
            "other": other}


def _url(catalog) -> str:
    return reverse("admin:catalog_dashboard", args=[catalog.pk])


def test_the_numbers_of_a_built_world(world, built):
    with _at(NOW):
        dashboard = catalog_dashboard(User.objects.get(pk=world.owner.pk), world.catalog.pk)
    counts = dashboard.counts
    assert (counts.packages, counts.active_assignments, counts.pending_requests,
            counts.delivery_failures) == (2, 3, 1, 1)
    weeks = dashboard.requests_per_week
    assert len(weeks) == 12
    assert weeks[0] == (date(2026, 3, 30), 0) and weeks[-1][0] == date(2026, 6, 15)
    assert {week: n for week, n in weeks if n} == {
        date(2026, 6, 1): 1, date(2026, 6, 8): 1, date(2026, 6, 15): 1}
    times = dashboard.approval_times
    assert times.count == 2
    assert times.median == timedelta(hours=26, minutes=30)
    assert dict(times.buckets) == {"Under 1 hour": 0, "1 to 8 hours": 1, "8 to 24 hours": 0,
                                   "1 to 3 days": 1, "3 to 7 days": 0, "7 to 14 days": 0,
                                   "14 days or more": 0}
    days = dashboard.expiring_per_day
    assert len(days) == 30 and days[0][0] == date(2026, 6, 17) and days[-1][0] == date(2026, 7, 16)
    assert {day: n for day, n in days if n} == {date(2026, 7, 7): 1, date(2026, 7, 16): 1}


def test_weeks_and_days_are_those_of_the_viewers_time_zone(world, built):
    from django.utils import timezone

    # 23:30 in Auckland is already 18 June there: the expiry days start a day later.
    with _at(datetime(2026, 6, 17, 11, 30, tzinfo=UTC)), timezone.override("Pacific/Auckland"):
        dashboard = catalog_dashboard(User.objects.get(pk=world.owner.pk), world.catalog.pk)
    assert dashboard.today == date(2026, 6, 17)
    with _at(datetime(2026, 6, 17, 12, 30, tzinfo=UTC)), timezone.override("Pacific/Auckland"):
        dashboard = catalog_dashboard(User.objects.get(pk=world.owner.pk), world.catalog.pk)
    assert dashboard.today == date(2026, 6, 18)
    assert dashboard.expiring_per_day[0][0] == date(2026, 6, 18)


def test_the_page_shows_counts_and_accessible_charts(world, built, as_user):
    with _at(NOW):
        page = as_user(world.owner).get(_url(world.catalog)).content.decode()
    assert "Dashboard: Projects" in page
    for number, name in ((2, "Access packages"), (3, "Active assignments"),
                         (1, "Pending requests"), (1, "Delivery failures")):
        assert f'<span class="number">{number}</span> <span class="name">{name}</span>' in page
    assert "Median time to approve, last 90 days: <strong>1 day 2 hours</strong>" in page
    for chart in ("requests-per-week", "time-to-approve", "expiring"):
        assert (f'<svg role="img" aria-labelledby="{chart}-title {chart}-desc"' in page)
        assert f'<title id="{chart}-title">' in page and f'<desc id="{chart}-desc">' in page
    assert "3 requests from the week of 30 Mar to the week of 15 Jun" in page
    assert ("2 requests finally approved; the median time from submission to the last "
            "approval was 1 day 2 hours.") in page
    assert "2 assignments ending from 17 Jun to 16 Jul, 0 of them in the next 7 days." in page
    # The table behind each chart.
    assert '<tr><th scope="row">1 to 3 days</th><td>1</td></tr>' in page
    assert '<tr><th scope="row">7 Jul</th><td>1</td></tr>' in page
    assert "<script" not in page.split('id="content-main"')[1]
    assert "Zulu" not in page


def test_an_empty_catalog_has_a_dashboard_too(world, as_user):
    empty = CatalogFactory(display_name="Empty")
    CatalogRoleAssignment.objects.create(catalog=empty, user=world.owner,
                                         role=CatalogRole.OWNER)
    page = as_user(world.owner).get(_url(empty)).content.decode()
    assert "No request needed and received approval in the last 90 days." in page
    assert "0 requests from the week of" in page


@pytest.mark.parametrize("role", list(CatalogRole.values))
def test_every_catalog_role_opens_its_catalogs_dashboard_and_no_other(world, built, as_user,
                                                                      role):
    person = role_holder(world.catalog, role, email="holder@access.example")
    client = as_user(person)
    assert client.get(_url(world.catalog)).status_code == 200
    assert client.get(_url(built["other"])).status_code == 404
    assert client.get(reverse("admin:catalog_dashboard", args=[999999])).status_code == 404
    index = client.get(reverse("admin:index")).content.decode()
    assert f'href="{_url(world.catalog)}"' in index
    assert f'href="{_url(built["other"])}"' not in index and "Zulu" not in index


def test_a_global_administrator_opens_every_dashboard(world, built, as_user):
    client = as_user(UserFactory(email="global@access.example", is_superuser=True))
    index = client.get(reverse("admin:index")).content.decode()
    for catalog in (world.catalog, built["other"]):
        assert client.get(_url(catalog)).status_code == 200
        assert f'href="{_url(catalog)}"' in index


def test_a_connected_organization_admin_has_no_dashboard(world, built, as_user):
    person = UserFactory(email="partners@access.example")
    GlobalRoleAssignment.objects.create(user=person, role=GlobalRole.CONNECTED_ORG_ADMIN)
    client = as_user(person)
    assert client.get(_url(world.catalog)).status_code == 404
    assert "Catalog dashboards" not in client.get(reverse("admin:index")).content.decode()


def test_people_without_a_role_are_sent_to_sign_in(world, client, as_user):
    for who in (client, as_user(world.member)):
        response = who.get(_url(world.catalog))
        assert response.status_code == 302
        assert response.headers["Location"].startswith(("/accounts/login/", "/admin/login/"))


# Queries


def _grow(world):
    """More of everything the dashboard counts."""
    for n in range(6):
        guest = GuestFactory(email=f"more{n}@contoso.example",
                             connected_organization=world.organization)
        _request(world, guest, NOW - timedelta(days=n * 9 + 1),
                 [timedelta(hours=n + 1), timedelta(hours=2 * n + 3)][: 2 if n % 3 else 1])
    PackageFactory(catalog=world.catalog)


def test_the_selector_reads_in_a_fixed_number_of_queries(world, built,
                                                         django_assert_num_queries):
    # One for the person's catalog roles, then the catalog with its counts, the weeks, the
    # approval times and the expiring days.
    owner = User.objects.get(pk=world.owner.pk)
    with _at(NOW), django_assert_num_queries(5):
        catalog_dashboard(owner, world.catalog.pk)
    _grow(world)
    owner = User.objects.get(pk=world.owner.pk)
    with _at(NOW), django_assert_num_queries(5):
        dashboard = catalog_dashboard(owner, world.catalog.pk)
    assert dashboard.approval_times.count > 2 and dashboard.counts.packages == 3


def test_the_page_costs_the_same_queries_however_busy_the_catalog(world, built, as_user):
    client = as_user(world.owner)

    def count():
        with _at(NOW), CaptureQueriesContext(connection) as captured:
            assert client.get(_url(world.catalog)).status_code == 200
        return len(captured)

    before = count()
    _grow(world)
    assert count() == before
