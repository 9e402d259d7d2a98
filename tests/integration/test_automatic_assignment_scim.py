"""Automatic assignment driven by an identity provider, end to end (issue 17).

scim2-client, as Entra's provisioning service, pushes a person into the portal over SCIM (the
live server) and later moves them into Sales with a PATCH, as Entra sends it: within seconds
the real Celery worker evaluates their rules, assigns them "Everyone in Sales"'s package and
delivers it into the portal's own group and a group of a real scim2-server. Okta then moves
them out with a PUT of the whole user: the removal is scheduled at the end of the two days'
grace period and the access stays. Two days later (time travel) the sweep ends the
assignment and the worker takes the access away, in the local group and in scim2-server.

time_machine patches the clock process-wide, so the worker (a thread of this process) reads
the travelled clock too: the revocations the sweep queues at the travelled "now" are due for
it. Leaving the travel before they are delivered would leave them two days in the future.
"""

import time
from datetime import timedelta

import httpx2
import pytest
import time_machine
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_models import Email, EnterpriseUser, Name, PatchOp, PatchOperation, User

from governance import clock
from governance.choices import (
    ASSIGNMENT_ACTIVE,
    AssignmentState,
    BulkJobState,
    EndReason,
    ExpirationType,
    SystemKind,
)
from governance.models import (
    Assignment,
    AuditEvent,
    GroupMembership,
    ResourceRole,
    RuleEvaluation,
)
from governance.models import User as Person
from governance.services.automatic import automatic_policies_reconcile
from governance.services.packages import package_create, package_role_add
from governance.services.policies import policy_save
from governance.services.policy_spec import PolicySpec
from governance.services.provisioning_clients import provisioning_client_create
from governance.services.system_refresh import system_refresh
from governance.services.systems import system_save
from tests.conftest import wait_for
from tests.factories import CatalogFactory, GroupFactory, UserFactory, group_role
from tests.scim_server import TOKEN

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

GRACE = timedelta(days=2)
# "Within seconds": from the PATCH's answer to the access being in both places.
WITHIN = 15.0


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def idp(live_server):
    """scim2-client as the identity provider's provisioning service, with its own token."""
    _client, token = provisioning_client_create(actor=None, display_name="Entra ID",
                                                system=True)
    http = httpx2.Client(base_url=f"{live_server.url}/scim/v2",
                         headers={"Authorization": f"Bearer {token}"}, trust_env=False)
    client = SyncSCIMClient(http)
    client.discover()
    yield client
    http.close()


@pytest.fixture
def sales_package(scim_server):
    """A package granting the portal's group "Sales team" and the scim2-server group
    "Sales CRM", with the automatic policy "Everyone in Sales" (two days' grace)."""
    admin = UserFactory(email="ada@access.example", display_name="Ada Admin",
                        is_superuser=True)
    catalog = CatalogFactory(display_name="Sales apps")
    crm_group = scim_server.create_group("Sales CRM")
    system = system_save(actor=admin, display_name="Sales CRM", kind=SystemKind.SCIM,
                         base_url=scim_server.base_url, secret_value=TOKEN)
    system_refresh(actor=admin, system_id=system.pk, catalog_id=catalog.pk)
    package = package_create(actor=admin, catalog_id=catalog.pk,
                             display_name="Sales workspace",
                             description="The CRM and the team's group.")
    package_role_add(actor=admin, package_id=package.pk, role_id=ResourceRole.objects.get(
        resource__system=system, resource__origin_id=crm_group).pk)
    team = GroupFactory(display_name="Sales team")
    group_role(package, team)
    policy = policy_save(actor=admin, access_package_id=package.pk, spec=PolicySpec(
        display_name="Everyone in Sales", is_automatic=True,
        membership_rule='user.department -eq "Sales"',
        expiration_type=ExpirationType.NO_EXPIRATION, expiration_duration=None,
        grace_period_before_access_removal=GRACE))
    return package, policy, team, crm_group


def entra_user(user_name: str, given: str, family: str, *, department: str) -> User:
    person = User[EnterpriseUser](
        user_name=user_name, external_id=f"entra-{given.lower()}", active=True,
        display_name=f"{given} {family}", name=Name(given_name=given, family_name=family),
        emails=[Email(value=user_name, primary=True, type="work")], title="Account manager")
    person[EnterpriseUser] = EnterpriseUser(department=department)
    return person


def _in_crm(scim_server, crm_group: str, email: str) -> bool:
    accounts = {user["id"] for user in scim_server.users(userName=email)}
    return bool(accounts) and set(scim_server.members(crm_group)) == accounts


def test_a_department_pushed_over_scim_adds_the_package_and_the_move_out_removes_it(
        celery_worker, idp, scim_server, sales_package):
    package, policy, team, crm_group = sales_package
    # The run the save queued: nobody is in Sales yet.
    wait_for(lambda: RuleEvaluation.objects.filter(policy=policy, state=BulkJobState.DONE)
             .exists(), what="the rule's first run")

    pushed = idp.create(entra_user("sam@access.example", "Sam", "Seller",
                                   department="Marketing"))
    sam = Person.objects.get(pk=pushed.id)
    assert sam.department == "Marketing"
    time.sleep(1)  # the joiner's own evaluation: it must find nothing to do
    assert not Assignment.objects.filter(target=sam).exists()

    # The mover, as Entra sends it: one attribute replaced in the enterprise extension.
    began = time.monotonic()
    idp.modify(User[EnterpriseUser], pushed.id, PatchOp[User[EnterpriseUser]](operations=[
        PatchOperation(op="replace", path=f"{EnterpriseUser.__schema__}:department",
                       value="Sales")]))
    assignment = wait_for(lambda: Assignment.objects.filter(
        target=sam, access_package=package, state=AssignmentState.DELIVERED).first(),
        timeout=WITHIN, what="the package delivered")
    wait_for(lambda: _in_crm(scim_server, crm_group, sam.email), timeout=WITHIN,
             what="Sam in the scim2-server group")
    print(f"\nSCIM PATCH to access in both places: {time.monotonic() - began:.1f} s")
    assert GroupMembership.objects.filter(group=team, user=sam).exists()
    assert assignment.policy == policy and assignment.rule_removal_at is None
    created = AuditEvent.objects.get(action="assignment.created", object_id=str(assignment.pk))
    assert created.details == {"reason": "automaticPolicy", "policy": policy.pk}

    # Okta's mover: the whole user PUT back, another department. The removal is scheduled.
    current = idp.query(User[EnterpriseUser], pushed.id)
    current[EnterpriseUser].department = "Customer success"
    moved_at = clock.now()
    idp.replace(current)
    scheduled = wait_for(lambda: Assignment.objects.filter(
        pk=assignment.pk, rule_removal_at__isnull=False).first(), timeout=WITHIN,
        what="the removal scheduled")
    assert scheduled.rule_removal_at == pytest.approx(moved_at + GRACE,
                                                      abs=timedelta(seconds=WITHIN))
    assert scheduled.state == AssignmentState.DELIVERED  # access kept meanwhile
    assert GroupMembership.objects.filter(group=team, user=sam).exists()
    assert _in_crm(scim_server, crm_group, sam.email)
    ends = scheduled.rule_removal_at

    # An hour before the grace period ends, the sweep leaves the access alone.
    with time_machine.travel(ends - timedelta(hours=1)):
        assert automatic_policies_reconcile().removed == 0
    assert Assignment.objects.get(pk=assignment.pk).state == AssignmentState.DELIVERED

    # Once it has ended, the sweep ends the assignment; the worker, on the same travelled
    # clock, revokes in the local group and in scim2-server.
    with time_machine.travel(ends + timedelta(minutes=1)):
        assert automatic_policies_reconcile().removed == 1
        wait_for(lambda: not GroupMembership.objects.filter(group=team, user=sam).exists(),
                 timeout=WITHIN, what="Sam out of the local group")
        wait_for(lambda: scim_server.members(crm_group) == [], timeout=WITHIN,
                 what="Sam out of the scim2-server group")
    ended = Assignment.objects.get(pk=assignment.pk)
    assert (ended.state, ended.end_reason) == (AssignmentState.EXPIRED,
                                               EndReason.RULE_NOT_MATCHED)
    assert not Assignment.objects.filter(target=sam, access_package=package,
                                         state__in=ASSIGNMENT_ACTIVE).exists()
