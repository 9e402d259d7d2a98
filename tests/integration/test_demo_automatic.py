"""The demo's automatic policy: `demo_seed` saves "Everyone in Sales" on the package "Sales
workspace" through the policy service and runs the evaluation that saving queues, so the
people of Sales hold the package (delivered into Sales Team) when the demo starts."""

import io

import pytest
from django.core.management import call_command

from governance.choices import ASSIGNMENT_ACTIVE, AssignmentState, BulkJobState, RequestType
from governance.models import (
    AccessPackage,
    Assignment,
    AssignmentPolicy,
    GroupMembership,
    RuleEvaluation,
)

SALES_PEOPLE = {"sales.approver@access.example", "priya@access.example"}


@pytest.fixture
def demo(db, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    out = io.StringIO()
    call_command("demo_seed", stdout=out)
    return out.getvalue()


def _holders(package) -> dict[str, str]:
    return dict(Assignment.objects.filter(access_package=package, state__in=ASSIGNMENT_ACTIVE)
                .values_list("target__email", "state"))


def test_the_demo_assigns_the_sales_workspace_to_everyone_in_sales(demo):
    package = AccessPackage.objects.get(display_name="Sales workspace")
    policy = AssignmentPolicy.objects.get(access_package=package)
    assert policy.is_automatic and policy.display_name == "Everyone in Sales"
    assert policy.membership_rule == 'user.department -eq "Sales"'
    evaluation = RuleEvaluation.objects.get(policy=policy)
    assert (evaluation.state, evaluation.added) == (BulkJobState.DONE, 2)
    assert "Everyone in Sales" in demo and "2 people of Sales assigned (done)" in demo
    # Sam and Priya are in Sales; Alice (Finance) and Bob (Partner sales) are not.
    assert _holders(package) == dict.fromkeys(SALES_PEOPLE, AssignmentState.DELIVERED)
    assert set(Assignment.objects.filter(access_package=package)
               .values_list("requests__request_type", flat=True)) == {RequestType.SYSTEM_ADD}
    assert set(GroupMembership.objects.filter(group__display_name="Sales Team")
               .values_list("user__email", flat=True)) == SALES_PEOPLE


def test_seeding_again_saves_and_assigns_nothing_twice(demo):
    call_command("demo_seed", stdout=io.StringIO())
    assert AssignmentPolicy.objects.filter(is_automatic=True).count() == 1
    assert AccessPackage.objects.filter(display_name="Sales workspace").count() == 1
    assert RuleEvaluation.objects.count() == 1
    assert Assignment.objects.count() == len(SALES_PEOPLE)
