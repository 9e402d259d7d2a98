"""People with each delegated role, and a snapshot of the configuration, for the tests of
the package builder (services and admin pages)."""

from dataclasses import dataclass

from governance.choices import CatalogRole, GlobalRole, GroupMembershipRole
from governance.models import (
    AccessPackage,
    ApprovalStageSetting,
    ApproverSet,
    AssignmentPolicy,
    AuditEvent,
    Catalog,
    CatalogRoleAssignment,
    GlobalRoleAssignment,
    Group,
    GroupMembership,
    Question,
    Resource,
    ResourceRole,
    ResourceRoleScope,
    RoleDelivery,
    User,
)
from tests.factories import (
    CatalogFactory,
    GroupFactory,
    UserFactory,
    World,
    role_holder,
    snapshot,
)


@dataclass
class Delegates:
    """Besides the world's catalog owner: one person per other role, and another catalog."""

    admin: User               # global administrator
    creator: User             # catalog creator (global role), no catalog yet
    package_manager: User     # access package manager of the world's catalog
    assignment_manager: User  # access package assignment manager of the world's catalog
    reader: User              # catalog reader of the world's catalog
    other_owner: User         # owner of `other_catalog` only
    other_catalog: Catalog
    owned_group: Group        # a group the world's catalog owner owns (and may offer)


def make_delegates(world: World) -> Delegates:
    admin = UserFactory(email="admin@access.example", display_name="Ada Admin",
                        is_staff=True, is_superuser=True)
    # With an authenticator app: the catalogs they create make them owners, who need one.
    creator = UserFactory(email="creator@access.example", display_name="Cora Creator",
                          totp=True)
    GlobalRoleAssignment.objects.create(user=creator, role=GlobalRole.CATALOG_CREATOR)
    people = {}
    for name, role in (("package.manager", CatalogRole.PACKAGE_MANAGER),
                       ("assignment.manager", CatalogRole.ASSIGNMENT_MANAGER),
                       ("reader", CatalogRole.READER)):
        people[role] = role_holder(world.catalog, role, email=f"{name}@access.example")
    other_catalog = CatalogFactory(display_name="Finance")
    other_owner = role_holder(other_catalog, CatalogRole.OWNER,
                              email="other.owner@access.example", display_name="Otto Other")
    owned_group = GroupFactory(display_name="Falcon Engineers")
    GroupMembership.objects.create(group=owned_group, user=world.owner,
                                   role=GroupMembershipRole.OWNER)
    return Delegates(admin, creator, people[CatalogRole.PACKAGE_MANAGER],
                     people[CatalogRole.ASSIGNMENT_MANAGER], people[CatalogRole.READER],
                     other_owner, other_catalog, owned_group)


def config_snapshot() -> dict:
    """What a refused configuration call must leave alone: the engine's rows (snapshot())
    and every configuration row with its values."""
    state = snapshot()
    rows = {
        "catalogs": Catalog.objects.values_list(
            "id", "display_name", "description", "state", "is_externally_visible"),
        "catalog_roles": CatalogRoleAssignment.objects.values_list("catalog_id", "user_id",
                                                                   "role"),
        "global_roles": GlobalRoleAssignment.objects.values_list("user_id", "role"),
        "resources": Resource.objects.values_list("id", "catalog_id", "display_name",
                                                  "origin_id"),
        "resource_roles": ResourceRole.objects.values_list("id", "resource_id", "origin_id"),
        "packages": AccessPackage.objects.values_list("id", "catalog_id", "display_name",
                                                      "description", "is_hidden"),
        "incompatible_packages": AccessPackage.incompatible_access_packages.through.objects
        .values_list("from_accesspackage_id", "to_accesspackage_id"),
        "incompatible_groups": AccessPackage.incompatible_groups.through.objects.values_list(
            "accesspackage_id", "group_id"),
        "role_scopes": ResourceRoleScope.objects.values_list("access_package_id", "role_id"),
        "policies": AssignmentPolicy.objects.values_list(
            "id", "access_package_id", "display_name", "allowed_target_scope",
            "is_approval_required_for_add", "expiration_type", "expiration_duration",
            "expiration_end_at", "review_settings"),
        "policy_users": AssignmentPolicy.specific_users.through.objects.values_list(
            "assignmentpolicy_id", "user_id"),
        "policy_organizations": AssignmentPolicy.specific_connected_organizations.through
        .objects.values_list("assignmentpolicy_id", "connectedorganization_id"),
        "stages": ApprovalStageSetting.objects.values_list(
            "id", "policy_id", "order", "duration_before_automatic_denial_days",
            "is_escalation_enabled", "duration_before_escalation_days"),
        "approver_sets": ApproverSet.objects.values_list("id", "stage_id", "kind",
                                                         "subject_type", "user_id", "group_id"),
        "questions": Question.objects.values_list("id", "policy_id", "text", "kind",
                                                  "regex_pattern", "choices"),
        "deliveries_detail": RoleDelivery.objects.values_list("id", "role_id", "action",
                                                              "state"),
        "audit": AuditEvent.objects.values_list("id", flat=True),
    }
    for name, query in rows.items():
        state[name] = sorted(query, key=repr)
    return state


def events(action: str) -> list:
    """The audit events of `action`, oldest first."""
    from governance.models import AuditEvent

    return list(AuditEvent.objects.filter(action=action).order_by("id"))
