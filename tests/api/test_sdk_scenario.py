"""The issue's scenario through Microsoft's Python SDK against the live server: an administrator
sets up a connected organization, a catalog, a package with two approval stages for that
organization's users and its group role; a guest requests it; two approvers decide (a late,
second decision is a 409); a real Celery worker delivers; the administrator removes it.
"""

from datetime import timedelta

import pytest
from msgraph.generated.models.access_package import AccessPackage
from msgraph.generated.models.access_package_approval_stage import AccessPackageApprovalStage
from msgraph.generated.models.access_package_assignment import AccessPackageAssignment
from msgraph.generated.models.access_package_assignment_approval_settings import (
    AccessPackageAssignmentApprovalSettings,
)
from msgraph.generated.models.access_package_assignment_policy import (
    AccessPackageAssignmentPolicy,
)
from msgraph.generated.models.access_package_assignment_request import (
    AccessPackageAssignmentRequest,
)
from msgraph.generated.models.access_package_assignment_requestor_settings import (
    AccessPackageAssignmentRequestorSettings,
)
from msgraph.generated.models.access_package_assignment_state import AccessPackageAssignmentState
from msgraph.generated.models.access_package_catalog import AccessPackageCatalog
from msgraph.generated.models.access_package_catalog_state import AccessPackageCatalogState
from msgraph.generated.models.access_package_request_state import AccessPackageRequestState
from msgraph.generated.models.access_package_request_type import AccessPackageRequestType
from msgraph.generated.models.access_package_resource import AccessPackageResource
from msgraph.generated.models.access_package_resource_request import (
    AccessPackageResourceRequest,
)
from msgraph.generated.models.access_package_resource_role import AccessPackageResourceRole
from msgraph.generated.models.access_package_resource_role_scope import (
    AccessPackageResourceRoleScope,
)
from msgraph.generated.models.access_package_resource_scope import AccessPackageResourceScope
from msgraph.generated.models.allowed_target_scope import AllowedTargetScope
from msgraph.generated.models.approval_stage import ApprovalStage
from msgraph.generated.models.connected_organization import ConnectedOrganization
from msgraph.generated.models.connected_organization_members import ConnectedOrganizationMembers
from msgraph.generated.models.connected_organization_state import ConnectedOrganizationState
from msgraph.generated.models.domain_identity_source import DomainIdentitySource
from msgraph.generated.models.expiration_pattern import ExpirationPattern
from msgraph.generated.models.expiration_pattern_type import ExpirationPatternType
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.models.single_user import SingleUser
from msgraph_core.tasks.page_iterator import PageIterator

from governance.choices import CatalogRole, GroupMembershipRole
from governance.models import ConnectedOrganization as Organization
from governance.models import GroupMembership
from tests.api.sdk import (
    SDK_TEST_MARKS,
    AssignmentsRequestBuilder,
    CatalogsRequestBuilder,
    ResourceRolesRequestBuilder,
    ResourcesRequestBuilder,
    api_client_token,
    assert_graph_v1_properties,
    call,
    graph_service_client,
    person_token,
    query,
    run,
)
from tests.conftest import wait_for
from tests.factories import CatalogFactory, GroupFactory, GuestFactory, UserFactory, role_holder

pytestmark = SDK_TEST_MARKS



def approval_stage(approver) -> AccessPackageApprovalStage:
    return AccessPackageApprovalStage(
        duration_before_automatic_denial=timedelta(days=14),
        is_approver_justification_required=True,
        is_escalation_enabled=False,
        primary_approvers=[SingleUser(user_id=str(approver.pk),
                                      description=approver.display_name)],
        fallback_primary_approvers=[], escalation_approvers=[],
        fallback_escalation_approvers=[])


def set_up_package(admin, group, approvers):
    """The administrator's part: organization, catalog, resource, package, role, policy.
    Returns (organization id, package id, policy id)."""
    em = admin.identity_governance.entitlement_management
    organization = call(admin, em.connected_organizations.post(ConnectedOrganization(
        display_name="Contoso", description="Our partner for Project Falcon",
        identity_sources=[DomainIdentitySource(domain_name="contoso.example",
                                               display_name="Contoso")],
        state=ConnectedOrganizationState.Configured,
    )), "POST connectedOrganizations")
    assert organization.id and organization.state == ConnectedOrganizationState.Configured

    catalog = call(admin, em.catalogs.post(AccessPackageCatalog(
        display_name="Partner projects", description="Projects we run with partners",
        state=AccessPackageCatalogState.Published, is_externally_visible=True,
    )), "POST catalogs")
    catalog_by_id = em.catalogs.by_access_package_catalog_id(catalog.id)

    call(admin, em.resource_requests.post(AccessPackageResourceRequest(
        request_type=AccessPackageRequestType.AdminAdd,
        resource=AccessPackageResource(origin_id=str(group.pk), origin_system="AadGroup"),
        catalog=AccessPackageCatalog(id=catalog.id),
    )), "POST resourceRequests")
    resources = call(admin, catalog_by_id.resources.get(request_configuration=query(
        ResourcesRequestBuilder, "ResourcesRequestBuilder",
        filter=f"originId eq '{group.pk}'")), "GET catalogs/{id}/resources?$filter")
    resource = resources.value[0]
    roles = call(admin, catalog_by_id.resource_roles.get(request_configuration=query(
        ResourceRolesRequestBuilder, "ResourceRolesRequestBuilder",
        filter=f"(originSystem eq 'AadGroup' and resource/id eq '{resource.id}')",
        expand=["resource"])), "GET catalogs/{id}/resourceRoles?$filter&$expand")
    member = next(role for role in roles.value if role.display_name == "Member")

    package = call(admin, em.access_packages.post(AccessPackage(
        display_name="Falcon collaboration", description="Project Falcon's group",
        is_hidden=False, catalog=AccessPackageCatalog(id=catalog.id),
    )), "POST accessPackages")
    call(admin, em.access_packages.by_access_package_id(package.id).resource_role_scopes.post(
        AccessPackageResourceRoleScope(
            role=AccessPackageResourceRole(
                origin_id=member.origin_id, display_name="Member", origin_system="AadGroup",
                resource=AccessPackageResource(id=resource.id, origin_id=str(group.pk),
                                               origin_system="AadGroup")),
            scope=AccessPackageResourceScope(origin_id=str(group.pk),
                                             origin_system="AadGroup"),
        )), "POST accessPackages/{id}/resourceRoleScopes")

    policy = call(admin, em.assignment_policies.post(AccessPackageAssignmentPolicy(
        display_name="Contoso partners",
        description="Contoso's users, approved by two people",
        allowed_target_scope=AllowedTargetScope.SpecificConnectedOrganizationUsers,
        specific_allowed_targets=[ConnectedOrganizationMembers(
            connected_organization_id=organization.id, description="Contoso")],
        expiration=ExpirationPattern(type=ExpirationPatternType.AfterDuration,
                                     duration=timedelta(days=30)),
        requestor_settings=AccessPackageAssignmentRequestorSettings(
            enable_targets_to_self_add_access=True,
            enable_targets_to_self_update_access=False,
            enable_targets_to_self_remove_access=True,
            allow_custom_assignment_schedule=False,
            enable_on_behalf_requestors_to_add_access=False,
            enable_on_behalf_requestors_to_update_access=False,
            enable_on_behalf_requestors_to_remove_access=False,
            on_behalf_requestors=[],
        ),
        request_approval_settings=AccessPackageAssignmentApprovalSettings(
            is_approval_required_for_add=True,
            is_approval_required_for_update=True,
            is_requestor_justification_required=True,
            stages=[approval_stage(approver) for approver in approvers],
        ),
        access_package=AccessPackage(id=package.id),
    )), "POST assignmentPolicies")
    assert len(policy.request_approval_settings.stages) == 2
    return organization.id, package.id, policy.id


def assert_read_back(admin, organization_id, policy_id, approvers):
    """The SDK reads the organization and the policy back as the types it wrote (its parser
    picks subclasses by @odata.type) and the durations as timedeltas."""
    em = admin.identity_governance.entitlement_management
    organization = call(admin, em.connected_organizations.by_connected_organization_id(
        organization_id).get(), "GET connectedOrganizations/{id}")
    assert [(type(source), source.domain_name) for source in organization.identity_sources] \
        == [(DomainIdentitySource, "contoso.example")]
    policy = call(admin, em.assignment_policies.by_access_package_assignment_policy_id(
        policy_id).get(), "GET assignmentPolicies/{id}")
    assert policy.allowed_target_scope == AllowedTargetScope.SpecificConnectedOrganizationUsers
    target, = policy.specific_allowed_targets
    assert isinstance(target, ConnectedOrganizationMembers)
    assert target.connected_organization_id == organization_id
    assert policy.expiration.type == ExpirationPatternType.AfterDuration
    assert policy.expiration.duration == timedelta(days=30)
    settings = policy.request_approval_settings
    assert settings.is_approval_required_for_add and settings.is_requestor_justification_required
    for stage, approver in zip(settings.stages, approvers, strict=True):
        assert stage.duration_before_automatic_denial == timedelta(days=14)
        assert stage.is_approver_justification_required is True
        primary, = stage.primary_approvers
        assert isinstance(primary, SingleUser) and primary.user_id == str(approver.pk)


def approve(client, request_id: str, justification: str) -> str:
    """The approver finds the request among their approvals and approves their stage.
    Returns the stage's id."""
    approvals = client.identity_governance.entitlement_management \
        .access_package_assignment_approvals
    mine = call(client, approvals.filter_by_current_user_with_on("approver").get(),
                "GET accessPackageAssignmentApprovals/filterByCurrentUser(on='approver')")
    assert request_id in [approval.id for approval in mine.value], client.recorder.last()
    stages = call(client, approvals.by_approval_id(request_id).stages.get(),
                  "GET accessPackageAssignmentApprovals/{id}/stages")
    stage = next((s for s in stages.value if s.assigned_to_me
                  and s.review_result == "NotReviewed"), None)
    assert stage is not None, client.recorder.last()
    call(client, approvals.by_approval_id(request_id).stages.by_approval_stage_id(stage.id)
         .patch(ApprovalStage(review_result="Approve", justification=justification)),
         "PATCH accessPackageAssignmentApprovals/{id}/stages/{id}")
    return stage.id


def test_the_scenario_through_the_sdk(live_server, celery_worker):
    _principal, admin_token = api_client_token("Scenario administrator")
    approver = UserFactory(email="approver@access.example", display_name="Approver")
    second = UserFactory(email="second.approver@access.example", display_name="Second")
    group = GroupFactory(display_name="Project Falcon")
    admin = graph_service_client(live_server.url, admin_token)
    em = admin.identity_governance.entitlement_management

    organization_id, package_id, policy_id = set_up_package(admin, group, [approver, second])
    assert_read_back(admin, organization_id, policy_id, [approver, second])
    guest = GuestFactory(email="requester@contoso.example", display_name="Requester",
                         connected_organization=Organization.objects.get(pk=organization_id))

    # The guest finds the package among those they may ask for, and asks, with their token.
    own = graph_service_client(live_server.url, person_token(guest))
    mine = own.identity_governance.entitlement_management
    offered = call(own, mine.access_packages.filter_by_current_user_with_on(
        "allowedRequestor").get(), "GET accessPackages/filterByCurrentUser(on='allowedRequestor')")
    assert [package.id for package in offered.value] == [package_id]
    request = call(own, own.identity_governance.entitlement_management.assignment_requests.post(
        AccessPackageAssignmentRequest(
            request_type=AccessPackageRequestType.UserAdd,
            justification="Joining the Falcon project",
            assignment=AccessPackageAssignment(additional_data={
                "targetId": str(guest.pk),
                "assignmentPolicyId": policy_id,
                "accessPackageId": package_id,
            }),
        )), "POST assignmentRequests (userAdd)")
    assert request.id
    by_id = em.assignment_requests.by_access_package_assignment_request_id(request.id)

    def state_is(state):
        def check():
            current = call(admin, by_id.get(), "GET assignmentRequests/{id}")
            return current if current.state == state else None
        return check

    wait_for(state_is(AccessPackageRequestState.PendingApproval), timeout=30,
             what="the request to wait for approval")

    # Stage 1: the first approver decides; a second decision on the same stage is a 409.
    first = graph_service_client(live_server.url, person_token(approver))
    stage_id = approve(first, request.id, "Known partner")
    stage = (first.identity_governance.entitlement_management
             .access_package_assignment_approvals.by_approval_id(request.id)
             .stages.by_approval_stage_id(stage_id))
    with pytest.raises(ODataError) as late:
        run(stage.patch(ApprovalStage(review_result="Deny", justification="Too late")))
    assert late.value.response_status_code == 409, first.recorder.last()

    # Stage 2, then delivery by the worker.
    last = graph_service_client(live_server.url, person_token(second))
    approve(last, request.id, "Project lead agrees")
    wait_for(state_is(AccessPackageRequestState.Delivered), timeout=30,
             what="the request to be delivered")
    assignments = call(admin, em.assignments.get(request_configuration=query(
        AssignmentsRequestBuilder, "AssignmentsRequestBuilder",
        filter=f"accessPackage/id eq '{package_id}'", expand=["target"])),
        "GET assignments?$filter&$expand=target")
    assert len(assignments.value) == 1
    assignment = assignments.value[0]
    assert assignment.state == AccessPackageAssignmentState.Delivered
    assert assignment.target.object_id == str(guest.pk)
    members = call(admin, admin.groups.by_group_id(str(group.pk)).members.get(),
                   "GET groups/{id}/members")
    assert str(guest.pk) in [member.id for member in members.value]
    assert GroupMembership.objects.filter(group=group, user=guest,
                                          role=GroupMembershipRole.MEMBER).exists()

    # The guest sees their request and their access.
    requests = call(own, mine.assignment_requests.filter_by_current_user_with_on("target").get(),
                    "GET assignmentRequests/filterByCurrentUser(on='target')")
    assert [(r.id, r.state) for r in requests.value] == [
        (request.id, AccessPackageRequestState.Delivered)]
    held = call(own, mine.assignments.filter_by_current_user_with_on("target").get(),
                "GET assignments/filterByCurrentUser(on='target')")
    assert [(a.id, a.state) for a in held.value] == [
        (assignment.id, AccessPackageAssignmentState.Delivered)]

    # An administrator removes it: the assignment ends and the membership goes.
    removal = call(admin, em.assignment_requests.post(AccessPackageAssignmentRequest(
        request_type=AccessPackageRequestType.AdminRemove,
        assignment=AccessPackageAssignment(id=assignment.id),
    )), "POST assignmentRequests (adminRemove)")
    assert removal.request_type == AccessPackageRequestType.AdminRemove
    ended = em.assignments.by_access_package_assignment_id(assignment.id)
    wait_for(lambda: call(admin, ended.get(), "GET assignments/{id}").state
             == AccessPackageAssignmentState.Expired, timeout=30,
             what="the assignment to end")
    wait_for(lambda: not GroupMembership.objects.filter(group=group, user=guest).exists(),
             timeout=30, what="the membership to be removed")
    members = call(admin, admin.groups.by_group_id(str(group.pk)).members.get(),
                   "GET groups/{id}/members")
    assert str(guest.pk) not in [member.id for member in members.value]

    assert_graph_v1_properties(admin, own, first, last)


def refusal(coro) -> ODataError:
    """The ODataError the SDK raises for a refused call."""
    with pytest.raises(ODataError) as refused:
        run(coro)
    return refused.value


def catalogs(client):
    return client.identity_governance.entitlement_management.catalogs


def test_graph_errors_reach_the_sdk_as_odata_errors(live_server):
    catalog = CatalogFactory(display_name="Projects")
    stranger = role_holder(CatalogFactory(display_name="Elsewhere"), CatalogRole.OWNER,
                           email="stranger@access.example")
    _principal, read_only = api_client_token("Read only", write=False)
    _principal, writer_token = api_client_token("Writer")

    nobody = graph_service_client(live_server.url, "")
    error = refusal(catalogs(nobody).get())
    assert error.response_status_code == 401, nobody.recorder.last()
    assert error.error.code and error.error.message

    reader = graph_service_client(live_server.url, read_only)
    assert call(reader, catalogs(reader).get(), "GET catalogs (read only)").value
    error = refusal(catalogs(reader).post(AccessPackageCatalog(display_name="New")))
    assert error.response_status_code == 403, reader.recorder.last()
    assert "EntitlementManagement.ReadWrite.All" in error.error.message

    other = graph_service_client(live_server.url, person_token(stranger))
    error = refusal(catalogs(other).by_access_package_catalog_id(str(catalog.pk)).get())
    assert error.response_status_code == 404, other.recorder.last()

    writer = graph_service_client(live_server.url, writer_token)
    error = refusal(catalogs(writer).by_access_package_catalog_id("not-an-id").get())
    assert error.response_status_code == 404, writer.recorder.last()
    error = refusal(catalogs(writer).post(AccessPackageCatalog(
        display_name="New", additional_data={"colour": "red"})))
    assert error.response_status_code == 400, writer.recorder.last()
    assert "colour" in error.error.message


def test_the_sdk_pages_through_next_links(live_server):
    for name in ("Alpha", "Bravo", "Charlie", "Delta", "Echo"):
        CatalogFactory(display_name=name)
    _principal, token = api_client_token("Pager")
    client = graph_service_client(live_server.url, token)
    catalogs = client.identity_governance.entitlement_management.catalogs

    first = call(client, catalogs.get(request_configuration=query(
        CatalogsRequestBuilder, "CatalogsRequestBuilder", top=2, orderby=["displayName"],
        count=True)), "GET catalogs?$top=2&$orderby&$count=true")
    assert [c.display_name for c in first.value] == ["Alpha", "Bravo"]
    assert first.odata_count == 5
    assert first.odata_next_link

    names = []

    async def every_page():
        pages = PageIterator(first, client.request_adapter)
        await pages.iterate(lambda catalog: names.append(catalog.display_name) or True)

    call(client, every_page(), "the SDK's PageIterator following @odata.nextLink")
    assert names == ["Alpha", "Bravo", "Charlie", "Delta", "Echo"]
    assert_graph_v1_properties(client)
