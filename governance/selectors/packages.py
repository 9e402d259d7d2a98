"""What a person may see and request, and under which policy. Pages, admin and API use these."""

from dataclasses import dataclass, field

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils.formats import date_format

from governance import clock
from governance.choices import (
    ASSIGNMENT_ACTIVE,
    REQUEST_OPEN,
    AllowedTargetScope,
    CatalogState,
    ConnectedOrganizationState,
    ExpirationType,
    GroupMembershipRole,
)
from governance.models import (
    AccessPackage,
    Assignment,
    AssignmentPolicy,
    AssignmentRequest,
    ResourceRole,
    ResourceRoleScope,
    User,
)

Scope = AllowedTargetScope


def _scopes_open_to(user: User) -> list[str]:
    """The scope values that include this person without looking at specific targets."""
    if user.is_guest:
        scopes = [Scope.ALL_DIRECTORY_USERS, Scope.ALL_EXTERNAL_USERS]
        organization = user.connected_organization
        if organization and organization.state == ConnectedOrganizationState.CONFIGURED:
            scopes.append(Scope.ALL_CONFIGURED_CONNECTED_ORG_USERS)
        return scopes
    return [Scope.ALL_MEMBER_USERS, Scope.ALL_DIRECTORY_USERS]


def ended_condition() -> Q:
    """The condition on AssignmentPolicy rows whose requests have ended."""
    return Q(expiration_type=ExpirationType.AFTER_DATETIME, expiration_end_at__lte=clock.now())


def in_scope_condition(user: User) -> Q:
    """The condition on AssignmentPolicy rows whose allowedTargetScope includes this person."""
    through = AssignmentPolicy
    specific_user = Exists(through.specific_users.through.objects.filter(
        assignmentpolicy_id=OuterRef("pk"), user_id=user.pk))
    member_of_group = Exists(through.specific_groups.through.objects.filter(
        assignmentpolicy_id=OuterRef("pk"),
        group__memberships__user_id=user.pk,
        group__memberships__role=GroupMembershipRole.MEMBER,
    ))
    in_scope = Q(allowed_target_scope__in=_scopes_open_to(user)) | (
        Q(allowed_target_scope=Scope.SPECIFIC_DIRECTORY_USERS) & (specific_user | member_of_group)
    )
    if user.is_guest and user.connected_organization_id:
        in_organization = Exists(through.specific_connected_organizations.through.objects.filter(
            assignmentpolicy_id=OuterRef("pk"),
            connectedorganization_id=user.connected_organization_id,
        ))
        in_scope |= Q(allowed_target_scope=Scope.SPECIFIC_CONNECTED_ORG_USERS) & in_organization
    return in_scope


def policies_in_scope_for(user: User, *, include_ended: bool = False
                          ) -> QuerySet[AssignmentPolicy]:
    """Policies whose allowedTargetScope includes this person and that can still give access."""
    policies = AssignmentPolicy.objects.filter(in_scope_condition(user))
    return policies if include_ended else policies.exclude(ended_condition())


def availability_conditions(user: User) -> dict[str, Q]:
    """What a package must meet to exist for this person, by name: "published", and for a
    guest "external" (the catalog is visible to external users)."""
    conditions = {"published": Q(catalog__state=CatalogState.PUBLISHED)}
    if user.is_guest:
        conditions["external"] = Q(catalog__is_externally_visible=True)
    return conditions


def packages_available(user: User) -> QuerySet[AccessPackage]:
    """Packages that exist for this person at all: published, and externally visible for guests."""
    return AccessPackage.objects.filter(*availability_conditions(user).values())


def packages_visible_to(user: User) -> QuerySet[AccessPackage]:
    """The "Available" list: not hidden, and some policy lets this person ask for it."""
    requestable = policies_in_scope_for(user).filter(access_package_id=OuterRef("pk"),
                                                     enable_self_add=True)
    return packages_available(user).filter(Exists(requestable), is_hidden=False)


@dataclass
class RequestOptions:
    """The policies a request may use, best first, or why there are none."""

    policies: list[AssignmentPolicy] = field(default_factory=list)
    reason: str = ""

    @property
    def allowed(self) -> bool:
        return bool(self.policies)


def request_options(requestor: User, package: AccessPackage,
                    target: User | None = None) -> RequestOptions:
    """Which policies `requestor` may use to ask for `package` for `target` (default: self).

    The more specific policy wins (behaviour 3); at equal rank the requestor chooses.
    """
    target = target or requestor
    on_behalf = target.pk != requestor.pk
    if on_behalf and target.manager_id != requestor.pk:
        return RequestOptions(reason="You can only request access for your direct reports.")
    if not packages_available(target).filter(pk=package.pk).exists():
        return RequestOptions(reason="This access package is not available for requests.")
    policies = policies_in_scope_for(target, include_ended=True).filter(access_package=package)
    policies = policies.filter(enable_on_behalf_of_direct_reports=True) if on_behalf \
        else policies.filter(enable_self_add=True)
    ended = policies.filter(ended_condition()).order_by("-expiration_end_at").first()
    policies = sorted(policies.exclude(ended_condition()), key=lambda p: (p.scope_rank, p.pk))
    if not policies and ended:
        return RequestOptions(reason=f"Requests for this access package ended on "
                                     f"{date_format(ended.expiration_end_at, 'DATE_FORMAT')}.")
    if not policies:
        who = "this person" if on_behalf else "you"
        return RequestOptions(reason=f"No policy of this access package allows {who} to "
                                     "request it. Ask the package's owner for access.")
    return RequestOptions(policies=best_ranked(policies))


def best_ranked(policies: list[AssignmentPolicy]) -> list[AssignmentPolicy]:
    """Of the policies a person may use, those of the most specific scope (behaviour 3)."""
    best = min((policy.scope_rank for policy in policies), default=None)
    return [policy for policy in policies if policy.scope_rank == best]


def open_request_for(target: User, package: AccessPackage) -> AssignmentRequest | None:
    return AssignmentRequest.objects.filter(target=target, access_package=package,
                                            state__in=REQUEST_OPEN).first()


def active_assignment_for(target: User, package: AccessPackage) -> Assignment | None:
    return Assignment.objects.filter(target=target, access_package=package,
                                     state__in=ASSIGNMENT_ACTIVE).first()


def incompatible_packages(package: AccessPackage) -> QuerySet[AccessPackage]:
    """The packages that may not be held beside `package`: either side may declare it."""
    return AccessPackage.objects.filter(
        Q(incompatible_access_packages=package) | Q(incompatible_with=package))


def separation_of_duties_conflict(target: User, package: AccessPackage) -> str | None:
    """Why `target` may not hold `package` next to what they hold now, or None."""
    held = Assignment.objects.filter(target=target, state__in=ASSIGNMENT_ACTIVE,
                                     access_package__in=incompatible_packages(package)) \
        .select_related("access_package").first()
    if held:
        return (f"“{package}” cannot be held together with “{held.access_package}”, "
                "which is already assigned. That access must be removed first.")
    group = package.incompatible_groups.filter(
        memberships__user=target, memberships__role=GroupMembershipRole.MEMBER).first()
    if group:
        return (f"Members of the group “{group}” cannot hold “{package}”. "
                "Membership of that group must end first.")
    return None


def packages_matching(packages: QuerySet[AccessPackage], text: str) -> QuerySet[AccessPackage]:
    """Search by name, description, or the name of a resource the package grants."""
    text = (text or "").strip()
    if not text:
        return packages
    grants_resource = Exists(ResourceRoleScope.objects.filter(
        access_package_id=OuterRef("pk"), role__resource__display_name__icontains=text))
    return packages.filter(Q(display_name__icontains=text) | Q(description__icontains=text)
                           | grants_resource)


def package_for_page(user: User, package_id: int) -> AccessPackage | None:
    """The package, if this person may see its page: some policy lets them request it for
    themselves or for a direct report (a hidden package too: its direct link works), or they
    hold or asked for it. None otherwise."""
    requestable = policies_in_scope_for(user).filter(access_package_id=OuterRef("pk")).filter(
        Q(enable_self_add=True) | Q(enable_on_behalf_of_direct_reports=True))
    own = Exists(Assignment.objects.filter(target=user, access_package_id=OuterRef("pk"))) | \
        Exists(AssignmentRequest.objects.filter(target=user, access_package_id=OuterRef("pk")))
    page_open = Q(pk__in=packages_available(user).filter(Exists(requestable) | own)
                  .values("pk"))
    for report in user.direct_reports.filter(is_active=True):
        for_report = policies_in_scope_for(report).filter(
            access_package_id=OuterRef("pk"), enable_on_behalf_of_direct_reports=True)
        page_open |= Q(pk__in=packages_available(report).filter(Exists(for_report))
                       .values("pk"))
    return (AccessPackage.objects.filter(page_open).select_related("catalog")
            .filter(pk=package_id).first())


def package_roles(package: AccessPackage) -> QuerySet[ResourceRole]:
    """The roles a package grants, with their resources, as its page lists them."""
    return package.resource_roles.select_related("resource").order_by(
        "resource__display_name", "display_name")
