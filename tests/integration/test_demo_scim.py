"""The demo pointed at a running SCIM application with DEMO_SCIM_URL (and its token)."""

import io

import pytest
from django.core.management import call_command

from governance.choices import AssignmentState
from governance.models import AccessPackage, SystemAccount, TargetSystem, User
from governance.services.delivery import deliveries_process
from governance.services.requests import request_submit
from tests.scim_server import TOKEN

pytestmark = pytest.mark.services


@pytest.fixture
def demo_with_scim(db, scim_server, monkeypatch, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    monkeypatch.setenv("DEMO_SCIM_URL", scim_server.base_url)
    monkeypatch.setenv("PORTAL_SECRET_DEMO_SCIM_TOKEN", TOKEN)
    call_command("demo_seed", stdout=io.StringIO())
    return scim_server


def test_a_request_in_the_demo_is_delivered_into_the_scim_application(demo_with_scim):
    system = TargetSystem.objects.get()
    assert system.secret_env == "PORTAL_SECRET_DEMO_SCIM_TOKEN"  # named, never stored
    alice = User.objects.get(email="alice@access.example")
    package = AccessPackage.objects.get(display_name="Sales CRM")
    request = request_submit(requestor=alice, access_package_id=package.pk,
                             justification="Working the Contoso deal")
    deliveries_process()
    request.refresh_from_db()
    assert request.assignment.state == AssignmentState.DELIVERED
    group_id = package.role_scopes.get().role.resource.origin_id
    account = SystemAccount.objects.get(user=alice, system=system)
    assert demo_with_scim.members(group_id) == [account.external_id]
    assert demo_with_scim.user(account.external_id)["userName"] == alice.email


def test_running_the_seed_again_connects_nothing_twice(demo_with_scim):
    call_command("demo_seed", stdout=io.StringIO())
    assert TargetSystem.objects.count() == 1
    assert AccessPackage.objects.filter(display_name="Sales CRM").count() == 1
