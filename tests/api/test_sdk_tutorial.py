"""Microsoft Graph's tutorial "Manage access to resources using the entitlement management
APIs" (v1.0), step by step, through Microsoft's own Python SDK against the live server.

Each call is the tutorial's Python snippet with only the base URL and the token changed; a real
Celery worker delivers the access. A failing step names the exact request the SDK sent.
"""

from datetime import timedelta

import pytest
from msgraph.generated.models.access_package import AccessPackage
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
from msgraph.generated.models.expiration_pattern import ExpirationPattern
from msgraph.generated.models.expiration_pattern_type import ExpirationPatternType
from msgraph.generated.models.group import Group as GraphGroup
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.models.single_user import SingleUser

from governance.choices import GroupMembershipRole
from governance.models import Group, GroupMembership
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
from tests.factories import CatalogFactory, UserFactory

pytestmark = SDK_TEST_MARKS


def test_the_tutorial_through_the_sdk(live_server, celery_worker):
    principal, admin_token = api_client_token("Tutorial administrator")
    requestor = UserFactory(email="requestor1@access.example", display_name="Requestor1")
    CatalogFactory(display_name="General", description="Built-in catalog.")
    admin = graph_service_client(live_server.url, admin_token)
    em = admin.identity_governance.entitlement_management
    # Step 0: the group "Marketing resources" (its creator becomes its owner).
    created = call(admin, admin.groups.post(GraphGroup(
        description="Marketing group", display_name="Marketing resources", mail_enabled=False,
        mail_nickname="markres", security_enabled=True)), "0 POST groups")
    group_id = created.id
    group = Group.objects.get(pk=group_id)
    assert group.memberships.filter(user=principal, role=GroupMembershipRole.OWNER).exists()

    # Step 1.1: the General catalog's id.
    found = call(admin, em.catalogs.get(request_configuration=query(
        CatalogsRequestBuilder, "CatalogsRequestBuilder",
        filter="(displayName eq 'General')")), "1.1 GET catalogs?$filter")
    assert [c.display_name for c in found.value] == ["General"]
    catalog_id = found.value[0].id

    # Step 1.2: add the group to the catalog.
    resource_request = call(admin, em.resource_requests.post(AccessPackageResourceRequest(
        request_type=AccessPackageRequestType.AdminAdd,
        resource=AccessPackageResource(origin_id=group_id, origin_system="AadGroup"),
        catalog=AccessPackageCatalog(id=catalog_id),
    )), "1.2 POST resourceRequests")
    assert resource_request.id
    assert resource_request.request_type == AccessPackageRequestType.AdminAdd

    # Step 1.3: the catalog's resource for the group.
    resources = call(admin, em.catalogs.by_access_package_catalog_id(catalog_id).resources.get(
        request_configuration=query(ResourcesRequestBuilder, "ResourcesRequestBuilder",
                                    filter=f"originId eq '{group_id}'")),
        "1.3 GET catalogs/{id}/resources?$filter")
    assert len(resources.value) == 1
    resource = resources.value[0]
    assert (resource.display_name, resource.origin_system) == ("Marketing resources", "AadGroup")

    # Step 1.4: its Member role.
    roles = call(admin, em.catalogs.by_access_package_catalog_id(catalog_id).resource_roles.get(
        request_configuration=query(
            ResourceRolesRequestBuilder, "ResourceRolesRequestBuilder",
            filter=(f"(originSystem eq 'AadGroup' and displayName eq 'Member' "
                    f"and resource/id eq '{resource.id}')"),
            expand=["resource"])), "1.4 GET catalogs/{id}/resourceRoles?$filter&$expand")
    assert len(roles.value) == 1
    member_role = roles.value[0]
    assert member_role.display_name == "Member"
    assert member_role.resource.id == resource.id
    assert member_role.origin_id

    # Step 1.5: the access package.
    package = call(admin, em.access_packages.post(AccessPackage(
        display_name="Marketing Campaign",
        description="Access to resources for the campaign",
        is_hidden=False,
        catalog=AccessPackageCatalog(id=catalog_id),
    )), "1.5 POST accessPackages")
    assert package.id and package.display_name == "Marketing Campaign"

    # Step 1.6: the group's Member role in the package.
    scope = call(admin, em.access_packages.by_access_package_id(package.id)
                 .resource_role_scopes.post(AccessPackageResourceRoleScope(
                     role=AccessPackageResourceRole(
                         origin_id=member_role.origin_id, display_name="Member",
                         origin_system="AadGroup",
                         resource=AccessPackageResource(id=resource.id, origin_id=group_id,
                                                        origin_system="AadGroup")),
                     scope=AccessPackageResourceScope(origin_id=group_id,
                                                      origin_system="AadGroup"),
                 )), "1.6 POST accessPackages/{id}/resourceRoleScopes")
    assert scope.id

    # Step 1.7: a policy for Requestor1 alone, no approval, 30 days.
    policy = call(admin, em.assignment_policies.post(AccessPackageAssignmentPolicy(
        display_name="Specific users",
        description="Specific users can request assignment",
        allowed_target_scope=AllowedTargetScope.SpecificDirectoryUsers,
        specific_allowed_targets=[SingleUser(user_id=str(requestor.pk),
                                             description="Requestor1")],
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
            is_approval_required_for_add=False,
            is_approval_required_for_update=False,
            is_requestor_justification_required=False,
            stages=[],
        ),
        access_package=AccessPackage(id=package.id),
    )), "1.7 POST assignmentPolicies")
    assert policy.id
    assert policy.expiration.duration == timedelta(days=30)

    # Step 2: Requestor1, with their own token, requests the package. The v1.0 SDK's
    # accessPackageAssignment has no targetId/assignmentPolicyId/accessPackageId: Microsoft's
    # Python snippet puts them in additional_data, in snake_case, and the SDK sends them so.
    # (The scenario test sends Graph's camelCase names; both are read.)
    own = graph_service_client(live_server.url, person_token(requestor))
    request = call(own, own.identity_governance.entitlement_management.assignment_requests.post(
        AccessPackageAssignmentRequest(
            request_type=AccessPackageRequestType.UserAdd,
            assignment=AccessPackageAssignment(additional_data={
                "target_id": str(requestor.pk),
                "assignment_policy_id": policy.id,
                "access_package_id": package.id,
            }),
        )), "2 POST assignmentRequests (userAdd)")
    assert request.id
    assert request.request_type == AccessPackageRequestType.UserAdd

    # Step 3.1: the request is delivered (the worker provisions the group membership).
    by_id = em.assignment_requests.by_access_package_assignment_request_id(request.id)

    def delivered():
        current = call(admin, by_id.get(), "3.1 GET assignmentRequests/{id}")
        return current if current.state == AccessPackageRequestState.Delivered else None

    wait_for(delivered, timeout=30, what="the request to be delivered")

    # Step 3.2: the assignment, found by its policy.
    assignments = call(admin, em.assignments.get(request_configuration=query(
        AssignmentsRequestBuilder, "AssignmentsRequestBuilder",
        filter=f"assignmentPolicy/id eq '{policy.id}'", expand=["target"])),
        "3.2 GET assignments?$filter&$expand=target")
    assert len(assignments.value) == 1
    assignment = assignments.value[0]
    assert assignment.state == AccessPackageAssignmentState.Delivered
    assert assignment.target.object_id == str(requestor.pk)

    # Step 3.3: Requestor1 is a member of the group.
    members = call(admin, admin.groups.by_group_id(group_id).members.get(),
                   "3.3 GET groups/{id}/members")
    assert str(requestor.pk) in [member.id for member in members.value]
    assert GroupMembership.objects.filter(group=group, user=requestor,
                                          role=GroupMembershipRole.MEMBER).exists()

    # Step 4: clean up: remove the assignment, then (in Graph) delete the policy and package.
    removal = call(admin, em.assignment_requests.post(AccessPackageAssignmentRequest(
        request_type=AccessPackageRequestType.AdminRemove,
        assignment=AccessPackageAssignment(id=assignment.id),
    )), "4 POST assignmentRequests (adminRemove)")
    assert removal.id and removal.request_type == AccessPackageRequestType.AdminRemove
    ended = em.assignments.by_access_package_assignment_id(assignment.id)
    wait_for(lambda: call(admin, ended.get(), "4 GET assignments/{id}").state
             == AccessPackageAssignmentState.Expired, timeout=30,
             what="the assignment to end")
    wait_for(lambda: not GroupMembership.objects.filter(group=group, user=requestor).exists(),
             timeout=30, what="the membership to be removed")
    # Graph deletes the policy and the package here. The portal keeps both while requests and
    # assignments refer to them (their history is the audit trail): the delete is a 409 that
    # says so and changes nothing, and the package is hidden instead, out of everyone's list.
    for what, builder in (
            ("policy", em.assignment_policies.by_access_package_assignment_policy_id(policy.id)),
            ("package", em.access_packages.by_access_package_id(package.id))):
        with pytest.raises(ODataError) as kept:
            run(builder.delete())
        assert kept.value.response_status_code == 409, admin.recorder.last()
        assert "history" in kept.value.error.message, (what, kept.value.error.message)
    call(admin, em.access_packages.by_access_package_id(package.id).patch(
        AccessPackage(is_hidden=True)), "4 PATCH accessPackages/{id} (hide)")
    hidden = call(admin, em.access_packages.by_access_package_id(package.id).get(),
                  "4 GET accessPackages/{id}")
    assert hidden.is_hidden is True
    offered = call(own, own.identity_governance.entitlement_management.access_packages
                   .filter_by_current_user_with_on("allowedRequestor").get(),
                   "4 GET accessPackages/filterByCurrentUser(on='allowedRequestor')")
    assert package.id not in [item.id for item in offered.value]

    assert_graph_v1_properties(admin, own)
