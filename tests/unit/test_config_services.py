"""The package builder's services: catalogs and their role holders, resources, packages and
the roles they grant, policies with their stages, questions. Each allowed path, each refusal
(with nothing written), and who may do what."""

from datetime import timedelta

import pytest

from governance import clock
from governance.choices import (
    AllowedTargetScope,
    ApproverKind,
    AssignmentState,
    CatalogRole,
    CatalogState,
    ConnectedOrganizationState,
    Decision,
    DeliveryAction,
    DeliveryState,
    EndReason,
    ExpirationType,
    GroupMembershipRole,
    QuestionKind,
    RequestState,
    SubjectSetType,
)
from governance.models import (
    AccessPackage,
    ApprovalStageSetting,
    AssignmentPolicy,
    AuditEvent,
    Catalog,
    CatalogRoleAssignment,
    GroupMembership,
    Question,
    Resource,
    RoleDelivery,
    User,
)
from governance.selectors.permissions import Capability, can
from governance.services.approvals import stage_decide
from governance.services.catalogs import (
    catalog_create,
    catalog_delete,
    catalog_role_grant,
    catalog_role_revoke,
    catalog_update,
)
from governance.services.delivery import deliveries_process
from governance.services.errors import (
    Duplicate,
    InvalidInput,
    InvalidState,
    NotAllowed,
    NotFound,
    Refused,
)
from governance.services.expiry import assignments_end
from governance.services.packages import (
    package_create,
    package_delete,
    package_role_add,
    package_role_remove,
    package_update,
    resource_add,
    resource_remove,
    resource_update,
)
from governance.services.policies import (
    StageSpec,
    policy_delete,
    policy_save,
    question_check,
    question_delete,
    question_save,
)
from governance.services.requests import request_cancel, request_submit
from tests.config_helpers import config_snapshot, make_delegates
from tests.factories import (
    GroupFactory,
    OrganizationFactory,
    PackageFactory,
    UserFactory,
    approve_all,
    delivered_assignment,
    group_role,
    submit_request,
)


@pytest.fixture
def people(world):
    return make_delegates(world)


@pytest.fixture
def refused():
    """Call `action`; expect `error` with `code` (and `field`), a readable message, and no
    row of the engine or the configuration changed."""

    def check(action, error: type[Refused], code: str, field: str | None = None,
              *words: str) -> Refused:
        before = config_snapshot()
        with pytest.raises(error) as caught:
            action()
        refusal = caught.value
        assert refusal.code == code, refusal.message
        if field is not None:
            assert refusal.field == field, refusal.message
        assert refusal.message.endswith(".") and len(refusal.message.split()) >= 4, \
            refusal.message
        for word in words:
            assert word in refusal.message, f"{word!r} not in {refusal.message!r}"
        assert config_snapshot() == before
        return refusal

    return check


def events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("id"))


# Catalogs


def test_a_catalog_creator_creates_a_catalog_and_owns_it_at_once(people):
    creator = people.creator
    assert not can(creator, None, Capability.CATALOG)
    catalog = catalog_create(actor=creator, display_name="  Research   labs ",
                             description="Lab access.\r\nFor researchers.",
                             state=CatalogState.PUBLISHED, is_externally_visible=True)
    assert (catalog.display_name, catalog.description) == ("Research labs",
                                                           "Lab access.\nFor researchers.")
    assert CatalogRoleAssignment.objects.filter(catalog=catalog, user=creator,
                                                role=CatalogRole.OWNER).exists()
    # The same user object (the admin's request.user) sees its new role without a reload.
    assert can(creator, catalog.pk, Capability.CATALOG)
    created, granted = events("catalog.created")[0], events("catalog.roleGranted")[0]
    assert created.actor == creator and created.after == {
        "displayName": "Research labs", "description": "Lab access.\nFor researchers.",
        "state": "published", "isExternallyVisible": True}
    assert granted.after == {"user": creator.email, "role": "catalogOwner"}


def test_a_global_administrator_creates_catalogs(people):
    catalog = catalog_create(actor=people.admin, display_name="Admin catalog")
    assert catalog.state == CatalogState.UNPUBLISHED and not catalog.is_externally_visible
    assert catalog.role_assignments.get().user == people.admin


@pytest.mark.parametrize("who", ["owner", "package_manager", "reader"])
def test_only_catalog_creators_and_global_administrators_create_catalogs(world, people,
                                                                         refused, who):
    actor = world.owner if who == "owner" else getattr(people, who)
    refused(lambda: catalog_create(actor=actor, display_name="Mine"), NotAllowed,
            "notCatalogCreator", None, "catalog creators")


@pytest.mark.parametrize("fields,code,field", [
    ({"display_name": "   "}, "nameRequired", "display_name"),
    ({"display_name": "x" * 201}, "nameTooLong", "display_name"),
    ({"display_name": "projects"}, "catalogNameTaken", "display_name"),
    ({"state": "archived"}, "invalidState", "state"),
])
def test_catalog_fields_are_checked(people, refused, fields, code, field):
    arguments = {"actor": people.creator, "display_name": "Research"} | fields
    refused(lambda: catalog_create(**arguments), InvalidInput, code, field)


def test_the_owner_changes_the_catalog_and_the_change_is_audited(world):
    catalog_update(actor=world.owner, catalog_id=world.catalog.pk, display_name="Projects",
                   description="All projects.", state=CatalogState.UNPUBLISHED,
                   is_externally_visible=True)
    world.catalog.refresh_from_db()
    assert (world.catalog.state, world.catalog.description) == ("unpublished", "All projects.")
    event = events("catalog.changed")[0]
    assert (event.before["state"], event.after["state"]) == ("published", "unpublished")
    # Saving the same values again changes and audits nothing.
    catalog_update(actor=world.owner, catalog_id=world.catalog.pk, display_name="Projects",
                   description="All projects.", state=CatalogState.UNPUBLISHED,
                   is_externally_visible=True)
    assert len(events("catalog.changed")) == 1


@pytest.mark.parametrize("who", ["package_manager", "assignment_manager", "reader",
                                 "other_owner", "creator"])
def test_only_owners_change_delete_and_delegate_a_catalog(world, people, refused, who):
    actor = getattr(people, who)
    catalog_id = world.catalog.pk
    refused(lambda: catalog_update(actor=actor, catalog_id=catalog_id, display_name="Mine",
                                   description="", state=CatalogState.PUBLISHED,
                                   is_externally_visible=False),
            NotAllowed, "notAllowed", None, "Projects")
    refused(lambda: catalog_delete(actor=actor, catalog_id=catalog_id), NotAllowed,
            "notAllowed")
    refused(lambda: catalog_role_grant(actor=actor, catalog_id=catalog_id, user=actor,
                                       role=CatalogRole.OWNER), NotAllowed, "notAllowed")
    refused(lambda: catalog_role_revoke(actor=actor, catalog_id=catalog_id, user=world.owner,
                                        role=CatalogRole.OWNER), NotAllowed, "notAllowed")


def test_a_catalog_with_packages_cannot_be_deleted(world, refused):
    refused(lambda: catalog_delete(actor=world.owner, catalog_id=world.catalog.pk),
            InvalidState, "catalogNotEmpty", None, "Falcon collaboration")


def test_deleting_an_empty_catalog_removes_its_resources_and_roles(people):
    catalog = catalog_create(actor=people.admin, display_name="Short-lived")
    resource_add(actor=people.admin, catalog_id=catalog.pk, group_id=people.owned_group.pk)
    catalog_delete(actor=people.admin, catalog_id=catalog.pk)
    assert not Catalog.objects.filter(pk=catalog.pk).exists()
    assert not Resource.objects.filter(catalog_id=catalog.pk).exists()
    event = events("catalog.deleted")[0]
    assert event.details == {"resources": ["Falcon Engineers"],
                             "roles": [{"user": people.admin.email, "role": "catalogOwner"}]}


def test_the_owner_grants_and_revokes_roles(world, people):
    member = UserFactory(email="new.reader@access.example")
    catalog_role_grant(actor=world.owner, catalog_id=world.catalog.pk, user=member,
                       role=CatalogRole.READER)
    assert can(member, world.catalog.pk, Capability.READ)
    catalog_role_revoke(actor=world.owner, catalog_id=world.catalog.pk, user=member,
                        role=CatalogRole.READER)
    assert not can(User.objects.get(pk=member.pk), world.catalog.pk, Capability.READ)
    granted, revoked = events("catalog.roleGranted")[0], events("catalog.roleRevoked")[0]
    assert granted.after == revoked.before == {"user": member.email, "role": "catalogReader"}
    assert granted.object_type == "catalog" and granted.object_id == str(world.catalog.pk)


def test_an_owner_who_hands_over_loses_the_catalog_at_once(world, people):
    successor = UserFactory(email="successor@access.example")
    catalog_role_grant(actor=world.owner, catalog_id=world.catalog.pk, user=successor,
                       role=CatalogRole.OWNER)
    assert can(world.owner, world.catalog.pk, Capability.CATALOG)
    catalog_role_revoke(actor=world.owner, catalog_id=world.catalog.pk, user=world.owner,
                        role=CatalogRole.OWNER)
    assert not can(world.owner, world.catalog.pk, Capability.READ)


def test_grant_refusals(world, people, refused):
    guest, inactive = world.requester, UserFactory(email="gone@access.example",
                                                   is_active=False)

    def grant(user, role=CatalogRole.READER):
        return lambda: catalog_role_grant(actor=world.owner, catalog_id=world.catalog.pk,
                                          user=user, role=role)

    refused(grant(people.reader), Duplicate, "roleAlreadyHeld", None, "already")
    refused(grant(guest), InvalidInput, "userExternal", "user", "external user")
    refused(grant(inactive), InvalidInput, "userInactive", "user", "disabled")
    refused(grant(people.creator, "catalogAdmin"), InvalidInput, "invalidRole", "role")
    refused(lambda: catalog_role_grant(actor=world.owner, catalog_id=999999, user=guest,
                                       role=CatalogRole.READER), NotFound, "catalogNotFound")


def test_the_last_owner_stays(world, people, refused):
    refused(lambda: catalog_role_revoke(actor=world.owner, catalog_id=world.catalog.pk,
                                        user=world.owner, role=CatalogRole.OWNER),
            InvalidState, "lastOwner", None, "last owner")
    refused(lambda: catalog_role_revoke(actor=people.admin, catalog_id=world.catalog.pk,
                                        user=world.owner, role=CatalogRole.OWNER),
            InvalidState, "lastOwner")
    refused(lambda: catalog_role_revoke(actor=world.owner, catalog_id=world.catalog.pk,
                                        user=people.creator, role=CatalogRole.READER),
            NotFound, "roleNotHeld")


# Resources


def test_an_owner_offers_a_group_they_own_with_its_member_and_owner_roles(world, people):
    group = people.owned_group
    resource = resource_add(actor=world.owner, catalog_id=world.catalog.pk, group_id=group.pk)
    assert (resource.display_name, resource.origin_system, resource.origin_id,
            resource.connector) == ("Falcon Engineers", "AadGroup", str(group.pk), "local")
    assert sorted(resource.roles.values_list("display_name", "origin_id")) == [
        ("Member", f"Member_{group.pk}"), ("Owner", f"Owner_{group.pk}")]
    event = events("resource.added")[0]
    assert event.after["roles"] == [f"Member_{group.pk}", f"Owner_{group.pk}"]


def test_a_global_administrator_offers_any_group(world, people):
    group = GroupFactory(display_name="Payroll")
    resource = resource_add(actor=people.admin, catalog_id=world.catalog.pk, group_id=group.pk,
                            display_name="Payroll (read)")
    assert resource.display_name == "Payroll (read)"


def test_resource_refusals(world, people, refused):
    def add(actor, group):
        return lambda: resource_add(actor=actor, catalog_id=world.catalog.pk,
                                    group_id=group.pk if group else None)

    refused(add(world.owner, GroupFactory(display_name="Payroll")), InvalidInput,
            "groupNotOwned", "group", "Payroll")
    refused(add(people.admin, world.group), InvalidInput, "resourceExists", "group",
            "Project Falcon")
    refused(add(world.owner, None), InvalidInput, "groupNotFound", "group")
    # Resources are the owners': package managers build packages from them.
    GroupMembership.objects.create(group=people.owned_group, user=people.package_manager,
                                   role=GroupMembershipRole.OWNER)
    refused(add(people.package_manager, people.owned_group), NotAllowed, "notAllowed")
    refused(lambda: resource_add(actor=world.owner, catalog_id=people.other_catalog.pk,
                                 group_id=people.owned_group.pk), NotAllowed, "notAllowed")


def test_a_resource_is_removed_once_no_package_grants_its_roles(world, people, refused):
    resource = Resource.objects.get(catalog=world.catalog, origin_id=str(world.group.pk))
    refused(lambda: resource_remove(actor=world.owner, resource_id=resource.pk), InvalidState,
            "resourceInUse", None, "Falcon collaboration")
    unused = resource_add(actor=world.owner, catalog_id=world.catalog.pk,
                          group_id=people.owned_group.pk)
    resource_remove(actor=world.owner, resource_id=unused.pk)
    assert not Resource.objects.filter(pk=unused.pk).exists()
    assert events("resource.removed")[0].before["displayName"] == "Falcon Engineers"


def test_an_owner_renames_a_resource(world, people, refused):
    resource = Resource.objects.get(catalog=world.catalog, origin_id=str(world.group.pk))
    resource_update(actor=world.owner, resource_id=resource.pk, display_name="Falcon team",
                    description="The project's people.")
    resource.refresh_from_db()
    assert (resource.display_name, resource.origin_id) == ("Falcon team", str(world.group.pk))
    event = events("resource.changed")[0]
    assert (event.before["displayName"], event.after["displayName"]) == ("Project Falcon",
                                                                         "Falcon team")
    refused(lambda: resource_update(actor=world.owner, resource_id=resource.pk,
                                    display_name=" ", description=""), InvalidInput,
            "nameRequired", "display_name")
    refused(lambda: resource_update(actor=people.package_manager, resource_id=resource.pk,
                                    display_name="Mine", description=""), NotAllowed,
            "notAllowed")


def test_a_resource_whose_roles_were_delivered_stays(world, refused):
    assignment = delivered_assignment(world)
    role = group_role(world.package, world.group)
    assignments_end(assignment_ids=[assignment.pk], reason=EndReason.REMOVED_BY_ADMIN)
    package_role_remove(actor=world.owner, package_id=world.package.pk, role_id=role.pk)
    refused(lambda: resource_remove(actor=world.owner, resource_id=role.resource_id),
            InvalidState, "resourceHasHistory", None, "delivered")


# Packages


def test_a_package_manager_creates_a_package_with_separation_of_duties(world, people):
    package = package_create(actor=people.package_manager, catalog_id=world.catalog.pk,
                             display_name="Falcon admins", description="Administrators.",
                             is_hidden=True,
                             incompatible_access_package_ids=[world.package.pk],
                             incompatible_group_ids=[world.other_group.pk])
    assert package.catalog == world.catalog and package.is_hidden
    assert list(package.incompatible_access_packages.all()) == [world.package]
    assert list(package.incompatible_groups.all()) == [world.other_group]
    event = events("accessPackage.created")[0]
    assert event.after["incompatibleAccessPackages"] == [world.package.pk]
    assert event.details == {"catalog": world.catalog.pk}


@pytest.mark.parametrize("who", ["assignment_manager", "reader", "other_owner", "creator"])
def test_only_owners_and_package_managers_change_packages(world, people, refused, who):
    actor = getattr(people, who)
    refused(lambda: package_create(actor=actor, catalog_id=world.catalog.pk,
                                   display_name="Mine"), NotAllowed, "notAllowed")
    refused(lambda: package_update(actor=actor, package_id=world.package.pk,
                                   display_name="Mine", description="", is_hidden=False,
                                   incompatible_access_package_ids=[],
                                   incompatible_group_ids=[]), NotAllowed, "notAllowed")
    refused(lambda: package_delete(actor=actor, package_id=world.package.pk), NotAllowed,
            "notAllowed")
    role = world.package.resource_roles.first()
    refused(lambda: package_role_remove(actor=actor, package_id=world.package.pk,
                                        role_id=role.pk), NotAllowed, "notAllowed")


def test_package_refusals(world, people, refused):
    finance = PackageFactory(catalog=people.other_catalog, display_name="Finance reports")

    def create(**fields):
        return lambda: package_create(**({"actor": world.owner, "catalog_id": world.catalog.pk,
                                           "display_name": "Falcon admins"} | fields))

    refused(create(display_name=""), InvalidInput, "nameRequired", "display_name")
    refused(create(display_name="FALCON collaboration"), InvalidInput, "packageNameTaken",
            "display_name")
    refused(create(incompatible_access_package_ids=[finance.pk]), InvalidInput,
            "packageNotFound", "incompatible_access_packages", "no role in")
    refused(create(incompatible_group_ids=[987654]), InvalidInput, "groupNotFound",
            "incompatible_groups")
    refused(create(catalog_id=None), InvalidInput, "catalogNotFound", "catalog")
    refused(lambda: package_update(actor=world.owner, package_id=world.package.pk,
                                   display_name="Falcon", description="", is_hidden=False,
                                   incompatible_access_package_ids=[world.package.pk],
                                   incompatible_group_ids=[]),
            InvalidInput, "incompatibleWithItself", "incompatible_access_packages")


def test_an_update_keeps_the_incompatibilities_its_author_cannot_see(world, people):
    finance = PackageFactory(catalog=people.other_catalog, display_name="Finance reports")
    world.package.incompatible_access_packages.add(finance)
    package_update(actor=world.owner, package_id=world.package.pk, display_name="Falcon",
                   description="New.", is_hidden=False, incompatible_access_package_ids=[],
                   incompatible_group_ids=[])
    assert list(world.package.incompatible_access_packages.all()) == [finance]
    event = events("accessPackage.changed")[0]
    assert (event.before["displayName"], event.after["displayName"]) == (
        "Falcon collaboration", "Falcon")


def test_a_package_is_deleted_with_its_policies_once_unused(world):
    package = package_create(actor=world.owner, catalog_id=world.catalog.pk,
                             display_name="Draft")
    policy = policy_save(actor=world.owner, access_package_id=package.pk, display_name="All",
                         allowed_target_scope=AllowedTargetScope.ALL_MEMBER_USERS,
                         is_approval_required_for_add=False)
    package_delete(actor=world.owner, package_id=package.pk)
    assert not AccessPackage.objects.filter(pk=package.pk).exists()
    assert not AssignmentPolicy.objects.filter(pk=policy.pk).exists()
    assert events("accessPackage.deleted")[0].before["policies"] == ["All"]


def test_a_package_in_use_is_not_deleted(world, refused):
    def delete():
        package_delete(actor=world.owner, package_id=world.package.pk)

    request = submit_request(world)
    refused(delete, InvalidState, "packageHasOpenRequests", None, "open request")
    approve_all(request, world.approver, world.second_approver)
    refused(delete, InvalidState, "packageAssigned", None, "1 person")
    assignments_end(assignment_ids=[request.assignment_id], reason=EndReason.REMOVED_BY_ADMIN)
    refused(delete, InvalidState, "packageHasHistory", None, "hide it")


def test_a_role_of_another_catalog_is_refused(world, people, refused):
    finance = PackageFactory(catalog=people.other_catalog)
    foreign = group_role(finance, GroupFactory(display_name="Ledger"))
    refused(lambda: package_role_add(actor=world.owner, package_id=world.package.pk,
                                     role_id=foreign.pk), InvalidInput, "roleNotInCatalog",
            "resource_roles")
    existing = world.package.resource_roles.first()
    refused(lambda: package_role_add(actor=world.owner, package_id=world.package.pk,
                                     role_id=existing.pk), Duplicate, "roleAlreadyInPackage")


def _member(world, group) -> bool:
    return GroupMembership.objects.filter(group=group, user=world.requester,
                                          role=GroupMembershipRole.MEMBER).exists()


def test_a_role_added_to_a_held_package_is_delivered_to_its_holders(world, people):
    assignment = delivered_assignment(world)
    resource = resource_add(actor=world.owner, catalog_id=world.catalog.pk,
                            group_id=people.owned_group.pk)
    member_role = resource.roles.get(display_name="Member")
    package_role_add(actor=people.package_manager, package_id=world.package.pk,
                     role_id=member_role.pk)
    assignment.refresh_from_db()
    assert assignment.state == AssignmentState.DELIVERING
    deliveries_process()
    assignment.refresh_from_db()
    assert assignment.state == AssignmentState.DELIVERED and _member(world, people.owned_group)
    assert events("accessPackage.roleAdded")[0].details == {"deliveries": 1}


def test_a_role_removed_from_a_held_package_is_taken_away_unless_granted_elsewhere(world):
    assignment = delivered_assignment(world)
    role = group_role(world.package, world.other_group)
    # Another package of the catalog grants the same group to the same person.
    other = PackageFactory(catalog=world.catalog, display_name="Reports")
    group_role(other, world.other_group)
    policy_save(actor=world.owner, access_package_id=other.pk, display_name="Partners",
                allowed_target_scope=AllowedTargetScope.ALL_EXTERNAL_USERS,
                is_approval_required_for_add=False)
    request_submit(requestor=world.requester, access_package_id=other.pk)
    deliveries_process()
    package_role_remove(actor=world.owner, package_id=world.package.pk, role_id=role.pk)
    kept = RoleDelivery.objects.get(assignment=assignment, role=role)
    assert (kept.action, kept.state) == (DeliveryAction.REVOKE, DeliveryState.DONE)
    assert kept.note.startswith("Kept") and _member(world, world.other_group)

    falcon = group_role(world.package, world.group)
    package_role_remove(actor=world.owner, package_id=world.package.pk, role_id=falcon.pk)
    deliveries_process()
    assert not _member(world, world.group)
    assignment.refresh_from_db()
    assert assignment.state == AssignmentState.DELIVERED
    # Added back, it is granted again on the same row.
    package_role_add(actor=world.owner, package_id=world.package.pk, role_id=falcon.pk)
    deliveries_process()
    assert _member(world, world.group)
    assert RoleDelivery.objects.get(assignment=assignment, role=falcon).action == "grant"


# Policies


def two_stages(world, **first) -> list[StageSpec]:
    return [StageSpec(approvers=[world.approver], **first),
            StageSpec(approvers=[world.second_approver], deadline_days=7)]


def policy_arguments(world, **overrides) -> dict:
    return {"actor": world.owner, "access_package_id": world.package.pk,
            "display_name": "Partners of Contoso",
            "allowed_target_scope": AllowedTargetScope.SPECIFIC_CONNECTED_ORG_USERS,
            "specific_connected_organizations": [world.organization],
            "is_requestor_justification_required": True,
            "expiration_type": ExpirationType.AFTER_DURATION,
            "expiration_duration": timedelta(days=90),
            "stages": two_stages(world)} | overrides


def test_a_policy_is_saved_with_its_stages_and_is_requestable(world):
    world.policy.delete()
    policy = policy_save(**policy_arguments(world, stages=[
        StageSpec(approvers=[world.approver], escalation_approvers=[world.owner],
                  escalate_after_days=3, deadline_days=5, justification_required=True),
        StageSpec(dynamic_approver=SubjectSetType.INTERNAL_SPONSORS,
                  fallback_approvers=[world.second_approver]),
    ]))
    first, second = policy.stages.order_by("order")
    assert (first.duration_before_automatic_denial_days, first.is_escalation_enabled,
            first.duration_before_escalation_days, first.is_approver_justification_required) \
        == (5, True, 3, True)
    assert sorted(first.approver_sets.values_list("kind", "subject_type", "user__email")) == [
        (ApproverKind.ESCALATION, SubjectSetType.SINGLE_USER, world.owner.email),
        (ApproverKind.PRIMARY, SubjectSetType.SINGLE_USER, world.approver.email)]
    assert sorted(second.approver_sets.values_list("kind", "subject_type")) == [
        (ApproverKind.FALLBACK, SubjectSetType.SINGLE_USER),
        (ApproverKind.PRIMARY, SubjectSetType.INTERNAL_SPONSORS)]
    event = events("policy.created")[0]
    assert event.after["expirationDuration"] == "P90D"
    assert [stage["order"] for stage in event.after["stages"]] == [1, 2]
    request = request_submit(requestor=world.requester, access_package_id=world.package.pk,
                             justification="Joining")
    stage_decide(stage_id=request.stages.get(order=1).pk, approver=world.approver,
                 decision=Decision.APPROVE, justification="Known partner")
    # Contoso has no sponsors: the fallback approver decides stage 2.
    stage_decide(stage_id=request.stages.get(order=2).pk, approver=world.second_approver,
                 decision=Decision.APPROVE)
    request.refresh_from_db()
    assert request.state == RequestState.DELIVERING


def test_a_specific_directory_users_policy_names_users_or_groups(world):
    world.policy.delete()
    policy = policy_save(**policy_arguments(
        world, allowed_target_scope=AllowedTargetScope.SPECIFIC_DIRECTORY_USERS,
        specific_connected_organizations=[], specific_users=[world.member],
        specific_groups=[world.other_group], is_approval_required_for_add=False, stages=[],
        expiration_type=ExpirationType.NO_EXPIRATION))
    assert list(policy.specific_users.all()) == [world.member]
    assert policy.expiration_duration is None and not policy.stages.exists()
    request = request_submit(requestor=world.member, access_package_id=world.package.pk,
                             justification="Falcon")
    assert request.state == RequestState.DELIVERING


def _refusal_cases():
    never = {"expiration_type": ExpirationType.NO_EXPIRATION}
    return [
        ("no name", {"display_name": " "}, "nameRequired", "display_name"),
        ("name taken", {"display_name": "contoso partners"}, "policyNameTaken",
         "display_name"),
        ("unknown scope", {"allowed_target_scope": "everyone"}, "invalidScope",
         "allowed_target_scope"),
        ("directory users and organisations", {
            "allowed_target_scope": AllowedTargetScope.SPECIFIC_DIRECTORY_USERS,
            "specific_users": ["member"]}, "mixedScope", "specific_connected_organizations"),
        ("organisations and users", {"specific_users": ["member"]}, "mixedScope",
         "specific_users"),
        ("organisations and groups", {"specific_groups": ["other_group"]}, "mixedScope",
         "specific_groups"),
        ("no specific users", {"allowed_target_scope":
                               AllowedTargetScope.SPECIFIC_DIRECTORY_USERS,
                               "specific_connected_organizations": []},
         "targetsRequired", "specific_users"),
        ("no organisation", {"specific_connected_organizations": []}, "targetsRequired",
         "specific_connected_organizations"),
        ("targets the scope ignores", {"allowed_target_scope":
                                       AllowedTargetScope.ALL_EXTERNAL_USERS},
         "targetsNotUsed", "specific_connected_organizations"),
        ("approval without stages", {"stages": []}, "stageRequired", "stage1_approvers"),
        ("four stages", {"stages": "four"}, "tooManyStages", "stage3_approvers"),
        ("stages without approval", {"is_approval_required_for_add": False},
         "stagesNotUsed", "is_approval_required_for_add"),
        ("deadline 0", {"stages": [StageSpec(approvers=["approver"], deadline_days=0)]},
         "deadlineOutOfRange", "stage1_deadline_days"),
        ("deadline 15", {"stages": [StageSpec(approvers=["approver"], deadline_days=15)]},
         "deadlineOutOfRange", "stage1_deadline_days"),
        ("stage without approver", {"stages": [StageSpec(approvers=["approver"]),
                                               StageSpec(deadline_days=3)]},
         "approverRequired", "stage2_approvers"),
        ("manager without fallback", {"stages": [StageSpec(
            dynamic_approver=SubjectSetType.REQUESTOR_MANAGER)]},
         "fallbackRequired", "stage1_fallback_approvers"),
        ("sponsors without fallback", {"stages": [StageSpec(
            dynamic_approver=SubjectSetType.EXTERNAL_SPONSORS)]},
         "fallbackRequired", "stage1_fallback_approvers"),
        ("manager level 3", {"stages": [StageSpec(
            dynamic_approver=SubjectSetType.REQUESTOR_MANAGER, manager_level=3,
            fallback_approvers=["approver"])]}, "invalidManagerLevel",
         "stage1_dynamic_approver"),
        ("escalation after 0 days", {"stages": [StageSpec(
            approvers=["approver"], escalation_approvers=["owner"], escalate_after_days=0)]},
         "escalationTooSoon", "stage1_escalate_after_days"),
        ("escalation at the deadline", {"stages": [StageSpec(
            approvers=["approver"], escalation_approvers=["owner"], escalate_after_days=5,
            deadline_days=5)]}, "escalationAfterDeadline", "stage1_escalate_after_days"),
        ("escalation without days", {"stages": [StageSpec(
            approvers=["approver"], escalation_approvers=["owner"])]},
         "escalationDaysRequired", "stage1_escalate_after_days"),
        ("escalation without approvers", {"stages": [StageSpec(
            approvers=["approver"], escalate_after_days=2)]},
         "escalationApproversRequired", "stage1_escalation_approvers"),
        ("disabled approver", {"stages": [StageSpec(approvers=["disabled"])]},
         "approverInactive", "stage1_approvers"),
        ("no duration", {"expiration_duration": None}, "durationRequired",
         "expiration_duration"),
        ("zero duration", {"expiration_duration": timedelta(0)}, "durationRequired",
         "expiration_duration"),
        ("3661 days", {"expiration_duration": timedelta(days=3661)}, "durationTooLong",
         "expiration_duration"),
        ("no end date", {"expiration_type": ExpirationType.AFTER_DATETIME},
         "endDateRequired", "expiration_end_at"),
        ("past end date", {"expiration_type": ExpirationType.AFTER_DATETIME,
                           "expiration_end_at": "yesterday"}, "endDateInPast",
         "expiration_end_at"),
        ("unknown expiry", {"expiration_type": "someday"}, "invalidExpiration",
         "expiration_type"),
        ("review settings as text", {"review_settings": "monthly", **never},
         "invalidReviewSettings", "review_settings"),
    ]


def _resolve(world, value):
    """Names in the cases stand for the world's people and groups."""
    def named(name):
        if name == "disabled":
            return UserFactory(email="disabled@access.example", is_active=False)
        return {"member": world.member, "approver": world.approver, "owner": world.owner,
                "other_group": world.other_group}[name]

    if isinstance(value, list):
        return [named(item) if isinstance(item, str) else item for item in value]
    if isinstance(value, StageSpec):
        for name in ("approvers", "fallback_approvers", "escalation_approvers"):
            setattr(value, name, _resolve(world, getattr(value, name)))
        return value
    return value


@pytest.mark.parametrize("case", _refusal_cases(), ids=lambda case: case[0])
def test_policy_refusals_name_their_field_and_write_nothing(world, refused, case):
    _, overrides, code, field = case
    overrides = dict(overrides)
    if overrides.get("stages") == "four":
        overrides["stages"] = [StageSpec(approvers=[world.approver])] * 4
    elif "stages" in overrides:
        overrides["stages"] = [_resolve(world, spec) for spec in overrides["stages"]]
    for name in ("specific_users", "specific_groups"):
        if name in overrides:
            overrides[name] = _resolve(world, overrides[name])
    if overrides.get("expiration_end_at") == "yesterday":
        overrides["expiration_end_at"] = clock.now() - timedelta(days=1)
    arguments = policy_arguments(world, display_name="Second policy") | overrides
    refused(lambda: policy_save(**arguments), InvalidInput, code, field)


def test_a_policy_for_outsiders_needs_an_externally_visible_catalog(world, refused):
    world.catalog.is_externally_visible = False
    world.catalog.save()
    refused(lambda: policy_save(**policy_arguments(world, display_name="New")), InvalidInput,
            "catalogNotExternal", "allowed_target_scope", "not visible to external users")


def test_a_proposed_organisation_cannot_be_named(world, refused):
    proposed = OrganizationFactory(display_name="Tailspin",
                                   state=ConnectedOrganizationState.PROPOSED)
    refused(lambda: policy_save(**policy_arguments(
        world, display_name="New", specific_connected_organizations=[proposed])),
        InvalidInput, "organizationNotConfigured", "specific_connected_organizations",
        "Tailspin")


@pytest.mark.parametrize("who", ["assignment_manager", "reader", "other_owner", "creator"])
def test_only_owners_and_package_managers_change_policies(world, people, refused, who):
    actor = getattr(people, who)
    refused(lambda: policy_save(**policy_arguments(world, actor=actor, display_name="New")),
            NotAllowed, "notAllowed")
    refused(lambda: policy_delete(actor=actor, policy_id=world.policy.pk), NotAllowed,
            "notAllowed")
    refused(lambda: question_save(actor=actor, policy_id=world.policy.pk, text="Why?"),
            NotAllowed, "notAllowed")
    refused(lambda: question_delete(actor=actor, question_id=world.question.pk), NotAllowed,
            "notAllowed")


def test_a_package_manager_changes_a_policy_and_the_change_is_audited(world, people):
    policy_save(**policy_arguments(world, actor=people.package_manager,
                                   policy_id=world.policy.pk,
                                   display_name="Contoso partners",
                                   stages=two_stages(world, deadline_days=10)))
    stage = ApprovalStageSetting.objects.get(policy=world.policy, order=1)
    assert stage.duration_before_automatic_denial_days == 10
    event = events("policy.changed")[0]
    assert event.before["stages"][0]["deadlineDays"] == 14
    assert event.after["stages"][0]["deadlineDays"] == 10
    assert event.before["expirationDuration"] == "P30D"
    assert event.after["expirationDuration"] == "P90D"


def test_stages_can_be_dropped_when_nothing_waits_for_them(world):
    policy_save(**policy_arguments(world, policy_id=world.policy.pk,
                                   display_name="Contoso partners",
                                   stages=[StageSpec(approvers=[world.approver])]))
    assert list(world.policy.stages.values_list("order", flat=True)) == [1]


def test_the_number_of_stages_stays_while_requests_wait_for_approval(world, refused):
    submit_request(world)
    refused(lambda: policy_save(**policy_arguments(
        world, policy_id=world.policy.pk, display_name="Contoso partners",
        stages=[StageSpec(approvers=[world.approver])])),
        InvalidState, "stagesInUse", None, "1 request is waiting")
    # Approvers and deadlines may change under them.
    policy_save(**policy_arguments(world, policy_id=world.policy.pk,
                                   display_name="Contoso partners",
                                   stages=two_stages(world, deadline_days=3)))


def test_a_policy_stays_with_its_package(world, refused):
    other = PackageFactory(catalog=world.catalog)
    refused(lambda: policy_save(**policy_arguments(world, policy_id=world.policy.pk,
                                                   access_package_id=other.pk)),
            InvalidInput, "policyCannotMove", "access_package")


def test_a_passed_end_date_may_stay_when_other_fields_change(world, monkeypatch):
    end = clock.now() + timedelta(days=2)
    arguments = policy_arguments(world, policy_id=world.policy.pk,
                                 display_name="Contoso partners",
                                 expiration_type=ExpirationType.AFTER_DATETIME,
                                 expiration_end_at=end)
    policy_save(**arguments)
    later = clock.now() + timedelta(days=3)
    monkeypatch.setattr(clock, "now", lambda: later)
    policy = policy_save(**(arguments | {"description": "Ended."}))
    assert policy.expiration_end_at == end and policy.description == "Ended."


def test_policy_delete(world, refused):
    def delete():
        policy_delete(actor=world.owner, policy_id=world.policy.pk)

    request = submit_request(world)
    refused(delete, InvalidState, "policyHasOpenRequests", None, "open request")
    approve_all(request, world.approver, world.second_approver)
    refused(delete, InvalidState, "policyHasAssignments", None, "1 person holds")
    assignments_end(assignment_ids=[request.assignment_id], reason=EndReason.REMOVED_BY_ADMIN)
    refused(delete, InvalidState, "policyHasHistory", None, "history")
    unused = policy_save(**policy_arguments(world, display_name="Unused"))
    question_save(actor=world.owner, policy_id=unused.pk, text="Why?")
    policy_delete(actor=world.owner, policy_id=unused.pk)
    assert not AssignmentPolicy.objects.filter(pk=unused.pk).exists()
    assert events("policy.deleted")[0].details == {"questions": ["Why?"]}


def test_a_canceled_request_still_keeps_its_policy(world, refused):
    request = submit_request(world)
    request_cancel(actor=world.requester, request_id=request.pk)
    refused(lambda: policy_delete(actor=world.owner, policy_id=world.policy.pk),
            InvalidState, "policyHasHistory")


# Questions


def test_a_multiple_choice_question_is_saved_and_answered(world):
    question = question_save(actor=world.owner, policy_id=world.policy.pk,
                             kind=QuestionKind.CHOICE, text="  Which   region? ", sequence=2,
                             choices=[{"value": "eu", "text": "Europe",
                                       "localizations": {"fr": "Europe"}},
                                      {"value": "us", "text": "United States"}],
                             localizations={"fr": "Quelle région ?"})
    assert question.text == "Which region?" and question.regex_pattern == ""
    event = events("policy.questionAdded")[0]
    assert event.object_id == str(world.policy.pk) and event.after["question"] == question.pk
    request = submit_request(world, answers={world.question.pk: "FAL-2026",
                                             question.pk: "eu"})
    assert request.answers.get(question=question).display_value == "Europe"


def test_a_question_is_changed_and_audited(world):
    question_save(actor=world.owner, policy_id=world.policy.pk,
                  question_id=world.question.pk, text="Which project code?",
                  regex_pattern=r"[A-Z]{3}-\d{2}", is_required=False)
    world.question.refresh_from_db()
    assert world.question.regex_pattern == r"[A-Z]{3}-\d{2}" and not world.question.is_required
    event = events("policy.questionChanged")[0]
    assert (event.before["regexPattern"], event.after["regexPattern"]) == (
        r"[A-Z]{3}-\d{4}", r"[A-Z]{3}-\d{2}")


@pytest.mark.parametrize("fields,code,field", [
    ({"text": " "}, "questionRequired", "text"),
    ({"text": "x" * 501}, "questionTooLong", "text"),
    ({"regex_pattern": "[A-Z"}, "invalidPattern", "regex_pattern"),
    ({"kind": "essay"}, "invalidQuestionKind", "kind"),
    ({"kind": QuestionKind.CHOICE}, "choicesRequired", "choices"),
    ({"kind": QuestionKind.CHOICE, "choices": [{"value": "a", "text": "A"}],
      "regex_pattern": "a"}, "patternNotUsed", "regex_pattern"),
    ({"kind": QuestionKind.CHOICE, "choices": [{"value": "a", "text": "A"},
                                               {"value": "a", "text": "B"}]},
     "duplicateChoice", "choices"),
    ({"kind": QuestionKind.CHOICE, "choices": [{"value": "a", "text": ""}]},
     "invalidChoice", "choices"),
    ({"choices": [{"value": "a", "text": "A"}]}, "choicesNotUsed", "choices"),
    ({"localizations": {"xx": "?"}}, "unknownLanguage", "localizations"),
    ({"sequence": -1}, "invalidNumber", "sequence"),
])
def test_question_refusals(world, refused, fields, code, field):
    arguments = {"actor": world.owner, "policy_id": world.policy.pk, "text": "Why?"} | fields
    refused(lambda: question_save(**arguments), InvalidInput, code, field)
    checked = {name: value for name, value in arguments.items()
               if name not in ("actor", "policy_id")}
    with pytest.raises(InvalidInput):
        question_check(**checked)


def test_a_question_is_removed_until_someone_answers_it(world, refused):
    spare = question_save(actor=world.owner, policy_id=world.policy.pk, text="Anything else?",
                          is_required=False)
    question_delete(actor=world.owner, question_id=spare.pk)
    assert not Question.objects.filter(pk=spare.pk).exists()
    assert events("policy.questionRemoved")[0].before["text"] == "Anything else?"
    submit_request(world)
    refused(lambda: question_delete(actor=world.owner, question_id=world.question.pk),
            InvalidState, "questionAnswered", None, "optional")
