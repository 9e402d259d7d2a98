"""The SCIM connector against the real scim2-server: every test asserts what the SCIM
service itself holds (by GETting it), not only what the portal recorded.

Faults that scim2-server cannot produce (429, 503, garbage bodies) come from a scripted
loopback server, in front of the real one where the rest of the conversation matters.
"""

from datetime import timedelta

import pytest
import time_machine

from governance import clock
from governance.choices import (
    AccountState,
    AllowedTargetScope,
    AssignmentState,
    CatalogRole,
    DeliveryAction,
    DeliveryState,
    ExternalUserLifecycleAction,
    OriginSystem,
)
from governance.connectors import ConnectorError, connector_for_system
from governance.connectors import scim as scim_module
from governance.models import Assignment, Resource, ResourceRole, SystemAccount, TenantSettings
from governance.services.accounts import accounts_process
from governance.services.delivery import deliveries_process
from governance.services.expiry import KEPT_NOTE
from governance.services.guests import guests_delete_due
from governance.services.packages import package_role_add
from governance.services.requests import request_admin_add, request_remove, request_submit
from governance.services.system_refresh import system_refresh
from governance.services.systems import system_check, system_save
from tests.conftest import wait_for
from tests.factories import (
    CatalogFactory,
    GuestFactory,
    PackageFactory,
    PolicyFactory,
    UserFactory,
    role_holder,
)
from tests.scim_server import TOKEN, Answer, ScriptedTarget

pytestmark = [pytest.mark.services, pytest.mark.django_db]


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def admin():
    return UserFactory(email="admin@access.example", is_superuser=True)


def scim_system(admin, base_url: str, token: str | None = TOKEN, system=None):
    """Configure (or, given `system`, change) the SCIM system as a global administrator."""
    return system_save(actor=admin, system_id=system and system.pk, display_name="Lab SCIM",
                       kind="scim", base_url=base_url, secret_value=token)


def scim_package(admin, system, group_id: str, name: str = "Lab access"):
    """A catalog refreshed from the system; a package there granting Member of the group to
    anyone in the directory who asks (no approval)."""
    catalog = CatalogFactory(display_name=f"{name} catalog")
    system_refresh(actor=admin, system_id=system.pk, catalog_id=catalog.pk)
    package = PackageFactory(catalog=catalog, display_name=name)
    role = ResourceRole.objects.get(resource__catalog=catalog, resource__origin_id=group_id,
                                    origin_id="Member")
    package_role_add(actor=admin, package_id=package.pk, role_id=role.pk)
    policy = PolicyFactory(access_package=package,
                           allowed_target_scope=AllowedTargetScope.ALL_DIRECTORY_USERS)
    return package, policy


@pytest.fixture
def lab(scim_server, admin):
    """A SCIM system on the real server, one group there, and a package granting it."""
    group_id = scim_server.create_group("Lab")
    system = scim_system(admin, scim_server.base_url)
    package, policy = scim_package(admin, system, group_id)
    return system, group_id, package, policy


@pytest.fixture
def target(scim_server):
    """A scripted loopback server in front of the real scim2-server."""
    scripted = ScriptedTarget(upstream=scim_server.base_url)
    scripted.start()
    yield scripted
    scripted.stop()


@pytest.fixture
def proxied_lab(lab, target, admin):
    """The lab, its system now reached through the scripted target."""
    scim_system(admin, target.base_url, token=None, system=lab[0])
    return lab


def _request(person, package):
    return request_submit(requestor=person, access_package_id=package.pk).assignment


def _delivery(assignment):
    return assignment.deliveries.get()


def test_delivery_creates_the_user_and_makes_them_a_member(scim_server, lab):
    system, group_id, package, _ = lab
    member = UserFactory(email="ada@access.example", display_name="Ada Lovelace")
    assignment = _request(member, package)
    assert deliveries_process() == 1

    assert Assignment.objects.get(pk=assignment.pk).state == AssignmentState.DELIVERED
    [user] = scim_server.users()
    assert (user["userName"], user["externalId"], user["displayName"], user["active"]) == (
        "ada@access.example", str(member.pk), "Ada Lovelace", True)
    assert user["emails"][0]["value"] == "ada@access.example"
    assert scim_server.members(group_id) == [user["id"]]
    assert SystemAccount.objects.get(system=system, user=member).external_id == user["id"]


def test_revoking_keeps_a_membership_another_assignment_still_grants(scim_server, lab, admin):
    system, group_id, package, _ = lab
    # The same SCIM group, offered in another catalog as a resource of its own.
    other_package, _ = scim_package(admin, system, group_id, name="Lab reports")
    member = UserFactory(email="grace@access.example")
    first, second = _request(member, package), _request(member, other_package)
    deliveries_process()
    [user] = scim_server.users()
    assert scim_server.members(group_id) == [user["id"]]

    request_remove(actor=member, assignment_id=first.pk)
    deliveries_process()
    assert (_delivery(first).action, _delivery(first).note) == (DeliveryAction.REVOKE, KEPT_NOTE)
    assert scim_server.members(group_id) == [user["id"]]

    request_remove(actor=member, assignment_id=second.pk)
    assert deliveries_process() == 1
    revoked = _delivery(second)
    assert (revoked.action, revoked.state) == (DeliveryAction.REVOKE, DeliveryState.DONE)
    assert scim_server.members(group_id) == []
    assert scim_server.user(user["id"])["active"] is True  # a revocation deletes nobody


def _governed_guest_loses_access(lab, action, days=30):
    system, group_id, package, policy = lab
    settings = TenantSettings.current()
    settings.external_user_lifecycle_action = action
    settings.days_until_external_user_deleted_after_blocked = days
    settings.save()
    owner = role_holder(package.catalog, CatalogRole.OWNER, email="owner@access.example")
    guest = GuestFactory(email="guest@contoso.example")
    request = request_admin_add(actor=owner, access_package_id=package.pk,
                                policy_id=policy.pk, target=guest)
    deliveries_process()
    account = SystemAccount.objects.get(system=system, user=guest)
    request_remove(actor=owner, assignment_id=request.assignment_id, as_admin=True)
    deliveries_process()
    guest.refresh_from_db()
    return guest, account


def test_a_governed_guest_who_loses_their_last_access_is_blocked_there(scim_server, lab):
    _, group_id, _, _ = lab
    guest, account = _governed_guest_loses_access(lab, ExternalUserLifecycleAction.BLOCK)
    assert guest.account_state == AccountState.BLOCKED
    assert scim_server.user(account.external_id)["active"] is True  # queued, not yet done

    assert accounts_process() == 1
    account.refresh_from_db()
    assert (account.state, account.pending_action, account.last_error) == (
        AccountState.BLOCKED, "", "")
    assert scim_server.user(account.external_id)["active"] is False
    assert scim_server.members(group_id) == []


def test_block_and_delete_deletes_the_scim_user_after_the_days(scim_server, lab):
    guest, account = _governed_guest_loses_access(
        lab, ExternalUserLifecycleAction.BLOCK_AND_DELETE, days=7)
    accounts_process()
    assert scim_server.user(account.external_id)["active"] is False

    with time_machine.travel(guest.blocked_at + timedelta(days=6, hours=23), tick=False):
        assert guests_delete_due() == 0
        assert accounts_process() == 0
    assert scim_server.user(account.external_id) is not None
    with time_machine.travel(guest.blocked_at + timedelta(days=7, minutes=1), tick=False):
        assert guests_delete_due() == 1
        assert accounts_process() == 1
    account.refresh_from_db()
    assert (account.state, account.last_error) == (AccountState.DELETED, "")
    assert scim_server.user(account.external_id) is None
    assert scim_server.users() == []


def test_a_delivery_while_the_server_is_down_is_retried_and_done_once(scim_server, lab):
    system, _, package, _ = lab
    member = UserFactory(email="katherine@access.example")
    scim_server.stop()
    start = clock.now()
    with time_machine.travel(start, tick=False):
        assignment = _request(member, package)
        deliveries_process()
    delivery = _delivery(assignment)
    assert (delivery.state, delivery.attempts) == (DeliveryState.PENDING, 1)
    assert "Could not reach" in delivery.last_error
    assert delivery.next_attempt_at == start + timedelta(seconds=30)
    assert Assignment.objects.get(pk=assignment.pk).state == AssignmentState.DELIVERING

    scim_server.start()  # same port; scim2-server comes back empty, so its group too
    group_id = scim_server.create_group("Lab")
    # Restored by the SCIM application's administrator, under another id.
    Resource.objects.filter(system=system).update(origin_id=group_id)
    with time_machine.travel(start + timedelta(seconds=29), tick=False):
        assert deliveries_process() == 0  # not due yet
    with time_machine.travel(start + timedelta(seconds=31), tick=False):
        assert deliveries_process() == 1
        assert deliveries_process() == 0
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.last_error) == (DeliveryState.DONE, 2, "")
    [user] = scim_server.users()
    assert scim_server.members(group_id) == [user["id"]]
    assert Assignment.objects.get(pk=assignment.pk).state == AssignmentState.DELIVERED


def test_a_failure_after_the_user_was_created_creates_them_once(scim_server, proxied_lab, target):
    _, group_id, package, _ = proxied_lab
    target.answer("PATCH", f"/Groups/{group_id}",
                  Answer(503, {"detail": "Maintenance in progress", "status": "503"}))
    member = UserFactory(email="dorothy@access.example")
    start = clock.now()
    with time_machine.travel(start, tick=False):
        assignment = _request(member, package)
        deliveries_process()
    delivery = _delivery(assignment)
    assert delivery.state == DeliveryState.PENDING
    assert "503" in delivery.last_error and "Maintenance in progress" in delivery.last_error
    assert len(scim_server.users()) == 1 and scim_server.members(group_id) == []

    with time_machine.travel(start + timedelta(minutes=1), tick=False):
        deliveries_process()
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.DONE
    [user] = scim_server.users()
    assert scim_server.members(group_id) == [user["id"]]
    assert [m for m, path in target.seen if path.startswith("/Users")].count("POST") == 1


def test_throttling_waits_as_long_as_the_server_asks(scim_server, proxied_lab, target):
    _, group_id, package, _ = proxied_lab
    target.answer("PATCH", f"/Groups/{group_id}", Answer(
        429, {"detail": "Too many requests", "status": "429"}, {"Retry-After": "600"}))
    member = UserFactory(email="hedy@access.example")
    start = clock.now()
    with time_machine.travel(start, tick=False):
        assignment = _request(member, package)
        deliveries_process()
    delivery = _delivery(assignment)
    assert delivery.state == DeliveryState.PENDING
    assert delivery.last_error.startswith("Throttled: 429")
    assert delivery.next_attempt_at == start + timedelta(seconds=600)  # not the 30 s backoff
    with time_machine.travel(start + timedelta(seconds=599), tick=False):
        assert deliveries_process() == 0
    assert scim_server.members(group_id) == []

    # A short Retry-After is waited out in place, within the same attempt.
    target.answer("PATCH", f"/Groups/{group_id}",
                  Answer(429, {"detail": "Slow down"}, {"Retry-After": "1"}))
    with time_machine.travel(start + timedelta(seconds=601), tick=False):
        assert deliveries_process() == 1
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts) == (DeliveryState.DONE, 2)
    [user] = scim_server.users()
    assert scim_server.members(group_id) == [user["id"]]
    assert target.seen.count(("PATCH", f"/Groups/{group_id}")) == 3


@pytest.mark.parametrize("where", ["search", "patch"])
def test_a_target_that_answers_garbage_fails_the_delivery_with_the_reason(
        scim_server, proxied_lab, target, where):
    _, group_id, package, _ = proxied_lab
    garbage = Answer(200, "<html><body>Welcome to the proxy</body></html>",
                     {"Content-Type": "text/html"})
    target.answer("GET" if where == "search" else "PATCH",
                  "/Users?" if where == "search" else "/Groups/", garbage)
    assignment = _request(UserFactory(email="barbara@access.example"), package)
    deliveries_process()

    delivery = _delivery(assignment)
    assert (delivery.state, delivery.attempts) == (DeliveryState.FAILED, 1)
    assert "not JSON: <html><body>Welcome to the proxy" in delivery.last_error
    assert Assignment.objects.get(pk=assignment.pk).state == AssignmentState.DELIVERY_FAILED


def test_check_reports_a_refused_token_in_the_servers_words(scim_server, admin):
    system = scim_system(admin, scim_server.base_url)
    assert system_check(actor=admin, system_id=system.pk) == (
        True, "The SCIM service answered and holds 0 users.")
    scim_system(admin, scim_server.base_url, token="wrong", system=system)
    ok, message = system_check(actor=admin, system_id=system.pk)
    assert not ok
    assert "credentials were refused: 401" in message
    assert "Authorization failure" in message  # scim2-server's own words
    system.refresh_from_db()
    assert (system.last_check_ok, system.last_check_message) == (False, message)
    with pytest.raises(ConnectorError) as refused:
        connector_for_system(system).check()
    assert not refused.value.retryable


def test_a_group_that_is_gone_fails_a_grant_but_not_a_revocation(scim_server, lab):
    _, group_id, package, _ = lab
    member = UserFactory(email="radia@access.example")
    assignment = _request(member, package)
    deliveries_process()
    scim_server.delete_group(group_id)  # by the SCIM application's administrator
    request_remove(actor=member, assignment_id=assignment.pk)
    deliveries_process()
    assert _delivery(assignment).state == DeliveryState.DONE

    second = _request(member, package)
    deliveries_process()
    delivery = _delivery(second)
    assert (delivery.state, delivery.attempts) == (DeliveryState.FAILED, 1)
    assert f"“{group_id}” no longer exists in Lab SCIM" in delivery.last_error


def test_an_account_deleted_in_scim_is_found_or_created_again(scim_server, lab):
    system, group_id, package, _ = lab
    member = UserFactory(email="frances@access.example")
    first = _request(member, package)
    deliveries_process()
    old_id = SystemAccount.objects.get(system=system, user=member).external_id
    scim_server.delete_user(old_id)  # by the SCIM application's administrator

    request_remove(actor=member, assignment_id=first.pk)
    deliveries_process()
    _request(member, package)
    deliveries_process()
    [user] = scim_server.users()
    assert user["id"] != old_id
    assert scim_server.members(group_id) == [old_id, user["id"]]  # scim2-server keeps both
    assert SystemAccount.objects.get(system=system, user=member).external_id == user["id"]


def test_refresh_offers_the_groups_of_every_page(scim_server, target, admin, monkeypatch):
    monkeypatch.setattr(scim_module, "PAGE_SIZE", 2)
    system = scim_system(admin, target.base_url)
    names = ["Lab", "Library", "Labs: reports"]
    ids = [scim_server.create_group(name) for name in names[:2]]
    ids.append(connector_for_system(system).create_group(names[2]))  # as the demo does
    catalog = CatalogFactory(display_name="Research")
    summary = system_refresh(actor=admin, system_id=system.pk, catalog_id=catalog.pk)
    assert sorted(summary.created) == sorted(names)
    assert sorted(catalog.resources.values_list(
        "display_name", "origin_system", "origin_id", "connector", "system")) == sorted(
        (name, OriginSystem.SCIM_GROUP, group_id, "scim", system.pk)
        for name, group_id in zip(names, ids, strict=True))
    assert set(ResourceRole.objects.filter(resource__catalog=catalog).values_list(
        "display_name", "origin_id")) == {("Member", "Member")}
    assert [path for _, path in target.seen if path.startswith("/Groups?")] == [
        "/Groups?startIndex=1&count=2&excludedAttributes=members",
        "/Groups?startIndex=3&count=2&excludedAttributes=members"]


@pytest.mark.parametrize("race", [False, True])
def test_an_account_there_already_is_used_not_duplicated(scim_server, proxied_lab, target, race):
    """Found by userName; or, when it appears between our search and our POST (race), the
    409 that the POST gets sends us searching again."""
    _, group_id, package, _ = proxied_lab
    existing = scim_server.create_user("alan@access.example")
    if race:
        nothing = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
                   "totalResults": 0, "Resources": []}
        target.answer("GET", "/Users?", *[Answer(200, nothing)] * 3)
    _request(UserFactory(email="alan@access.example"), package)
    deliveries_process()
    assert [user["id"] for user in scim_server.users()] == [existing]
    assert scim_server.members(group_id) == [existing]
    assert [m for m, path in target.seen if path.startswith("/Users")].count("POST") == race


@pytest.mark.django_db(transaction=True)
def test_a_worker_delivers_within_seconds(celery_worker, scim_server, lab):
    _, group_id, package, _ = lab
    member = UserFactory(email="margaret@access.example")
    assignment = _request(member, package)  # the task is published when this commits
    wait_for(lambda: scim_server.members(group_id), timeout=10, what="the SCIM membership")
    wait_for(lambda: Assignment.objects.get(pk=assignment.pk).state
             == AssignmentState.DELIVERED, timeout=10, what="the assignment delivered")
    [user] = scim_server.users()
    assert scim_server.members(group_id) == [user["id"]]
