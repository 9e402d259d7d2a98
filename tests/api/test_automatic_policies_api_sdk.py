"""An automatic policy through Microsoft's Python SDK against the live server, as Graph's
documentation writes it (the Python snippet of "Create a policy that automatically creates
assignments based on a membership rule"); the rule run its save queued assigns the people of
Sales, and the SDK reads their assignments, each naming the automatic policy that made it. A
person asks getApplicablePolicyRequirements: the automatic policy is not among the answers."""

from datetime import timedelta

from msgraph.generated.models.access_package import AccessPackage
from msgraph.generated.models.access_package_assignment_policy import (
    AccessPackageAssignmentPolicy,
)
from msgraph.generated.models.access_package_assignment_state import AccessPackageAssignmentState
from msgraph.generated.models.access_package_automatic_request_settings import (
    AccessPackageAutomaticRequestSettings,
)
from msgraph.generated.models.allowed_target_scope import AllowedTargetScope
from msgraph.generated.models.attribute_rule_members import AttributeRuleMembers

from governance.choices import AllowedTargetScope as Scope
from governance.choices import BulkJobState, GroupMembershipRole
from governance.models import GroupMembership, RuleEvaluation
from governance.services.automatic import rule_evaluation_run
from governance.services.delivery import deliveries_process
from tests.api.sdk import (
    SDK_TEST_MARKS,
    AssignmentsRequestBuilder,
    api_client_token,
    assert_graph_v1_properties,
    body_of,
    call,
    graph_service_client,
    person_token,
    query,
)
from tests.factories import (
    CatalogFactory,
    GroupFactory,
    PackageFactory,
    PolicyFactory,
    UserFactory,
    group_role,
)

pytestmark = SDK_TEST_MARKS


def test_an_automatic_policy_through_the_sdk(live_server, task_queue):
    _principal, admin_token = api_client_token("Automatic policies")
    admin = graph_service_client(live_server.url, admin_token)
    em = admin.identity_governance.entitlement_management
    package = PackageFactory(catalog=CatalogFactory(display_name="Sales"),
                             display_name="Sales workspace")
    team = GroupFactory(display_name="Sales team")
    group_role(package, team)
    people = {name: UserFactory(email=f"{name}@access.example", department=department)
              for name, department in (("ann", "Sales"), ("bob", "sales"),
                                       ("dee", "Finance"))}

    # The documentation's request body, word for word (the grace period as its string).
    request_body = AccessPackageAssignmentPolicy(
        display_name="Sales department users",
        description="All users from sales department",
        allowed_target_scope=AllowedTargetScope.SpecificDirectoryUsers,
        specific_allowed_targets=[
            AttributeRuleMembers(
                odata_type="#microsoft.graph.attributeRuleMembers",
                description="Membership rule for all users from sales department",
                membership_rule="(user.department -eq \"Sales\")",
            ),
        ],
        automatic_request_settings=AccessPackageAutomaticRequestSettings(
            request_access_for_allowed_targets=True,
            remove_access_when_target_leaves_allowed_targets=True,
            grace_period_before_access_removal="P7D",
        ),
        access_package=AccessPackage(
            id=str(package.pk),
        ),
    )
    policy = call(admin, em.assignment_policies.post(request_body), "POST assignmentPolicies")
    sent = body_of(admin.recorder.exchanges[-1])
    assert sent["automaticRequestSettings"]["gracePeriodBeforeAccessRemoval"] == "P7D"
    assert sent["specificAllowedTargets"][0]["@odata.type"] == \
        "#microsoft.graph.attributeRuleMembers"
    assert policy.allowed_target_scope == AllowedTargetScope.SpecificDirectoryUsers
    [target] = policy.specific_allowed_targets
    assert isinstance(target, AttributeRuleMembers), admin.recorder.last()
    assert target.membership_rule == "(user.department -eq \"Sales\")"
    settings = policy.automatic_request_settings
    assert (settings.request_access_for_allowed_targets,
            settings.remove_access_when_target_leaves_allowed_targets,
            settings.grace_period_before_access_removal) == (True, True, timedelta(days=7))

    # Saving queued a run of the rule (its message is on this test's own queue): run it, and
    # deliver what it assigned into the local group.
    [evaluation] = RuleEvaluation.objects.filter(policy_id=policy.id)
    evaluation = rule_evaluation_run(evaluation_id=evaluation.pk)
    assert (evaluation.state, evaluation.added) == (BulkJobState.DONE, 2), evaluation.error
    deliveries_process()
    assert set(GroupMembership.objects.filter(group=team, role=GroupMembershipRole.MEMBER)
               .values_list("user__email", flat=True)) == {"ann@access.example",
                                                           "bob@access.example"}

    found = call(admin, em.assignments.get(request_configuration=query(
        AssignmentsRequestBuilder, "AssignmentsRequestBuilder",
        filter=f"assignmentPolicy/id eq '{policy.id}'",
        expand=["target", "assignmentPolicy"])), "GET assignments?$filter&$expand")
    assert sorted(item.target.email for item in found.value) == [
        "ann@access.example", "bob@access.example"], admin.recorder.last()
    for item in found.value:
        assert item.state == AccessPackageAssignmentState.Delivered
        assert item.assignment_policy.id == policy.id

    # Each names the policy that made it, an automatic one.
    read = call(admin, em.assignment_policies.by_access_package_assignment_policy_id(
        policy.id).get(), "GET assignmentPolicies/{id}")
    assert read.automatic_request_settings.request_access_for_allowed_targets is True
    assert read.specific_allowed_targets[0].description == \
        "Membership rule for all users from sales department"
    assert read.requestor_settings.enable_targets_to_self_add_access is False

    # Ann holds the package through the rule; the one policy she may request under is the
    # requested one (an automatic policy takes no requests).
    requested = PolicyFactory(access_package=package, display_name="Ask for it",
                              allowed_target_scope=Scope.ALL_MEMBER_USERS)
    own = graph_service_client(live_server.url, person_token(people["ann"]))
    answer = call(own, own.identity_governance.entitlement_management.access_packages
                  .by_access_package_id(str(package.pk)).get_applicable_policy_requirements
                  .post(), "POST accessPackages/{id}/getApplicablePolicyRequirements")
    assert [(item.policy_id, item.policy_display_name) for item in answer.value] == [
        (str(requested.pk), "Ask for it")], own.recorder.last()
    assert answer.value[0].schedule.expiration.duration == timedelta(days=30)
    assert_graph_v1_properties(admin, own)
