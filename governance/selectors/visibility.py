"""Who may see what: the one place the pages, the admin and the API ask.

Everything that belongs to a catalog is seen by the catalog's role holders (every role reads;
global administrators and API clients read every catalog): ``restrict(user, Capability.READ)``
on the model's own queryset (governance.models.visibility), with the roles of
governance.selectors.permissions. Requests, approvals and assignments are seen, besides, by the
people they are about, as in Entra:

- a request: its requestor and its target;
- an approval (a request's stages): the approvers named on its stages, but never on a request
  of their own (they cannot decide it);
- an assignment: its target, and their manager while it is active (Manage team).

Each door shows the rule to the people it lets in: the My Access pages show a person their own
part (their requests, approvals, access and team), the admin shows the catalog part to the
people with a role, the API shows both. Whichever door a person may open, they see the same
(tests/integration/test_visibility_three_doors.py).
"""

from django.db.models import Q, QuerySet

from governance.choices import ASSIGNMENT_ACTIVE, GlobalRole, UserType
from governance.models import (
    AccessPackage,
    AccessReview,
    ApprovalStage,
    Assignment,
    AssignmentPolicy,
    AssignmentRequest,
    Catalog,
    ConnectedOrganization,
    Group,
    Resource,
    ReviewDecision,
    User,
)
from governance.selectors.permissions import (
    Capability,
    can_anywhere,
    can_use_admin,
    catalog_ids_for,
    has_global_role,
)
from governance.selectors.reviews import reviewable_decisions

READ = Capability.READ

__all__ = [
    "Capability", "approvals_visible_to", "approver_stages", "assignments_visible_to",
    "catalog_packages_visible_to", "catalogs_visible_to", "groups_visible_to",
    "may_read_organizations", "may_read_tenant_settings", "organizations_visible_to",
    "own_assignments", "own_requests", "policies_visible_to", "requests_visible_to",
    "resource_requests_visible_to", "resources_visible_to", "review_decisions_visible_to",
    "reviews_visible_to", "sees_whole_directory", "team_assignments", "users_visible_to",
]


def _reads_everything(user: User) -> bool:
    return catalog_ids_for(user, READ) is None


# What belongs to a catalog, and nothing else.

def catalogs_visible_to(user: User) -> QuerySet[Catalog]:
    return Catalog.objects.restrict(user, READ)


def catalog_packages_visible_to(user: User) -> QuerySet[AccessPackage]:
    """The packages of the catalogs `user` reads. Not the packages they may request (the
    Available list): that is selectors.packages.packages_visible_to."""
    return AccessPackage.objects.restrict(user, READ)


def policies_visible_to(user: User) -> QuerySet[AssignmentPolicy]:
    return AssignmentPolicy.objects.restrict(user, READ)


def resources_visible_to(user: User) -> QuerySet[Resource]:
    return Resource.objects.restrict(user, READ)


def resource_requests_visible_to(user: User, events: QuerySet) -> QuerySet:
    """Of `events` (resource requests, annotated with their catalog's id as ``catalog_pk``:
    they are audit events, which belong to no catalog), those of the catalogs `user` reads."""
    ids = catalog_ids_for(user, READ)
    return events if ids is None else events.filter(catalog_pk__in=ids)


def reviews_visible_to(user: User) -> QuerySet[AccessReview]:
    """The reviews `user` reads in full: those of the catalogs they read. A reviewer reads
    the decisions they review (review_decisions_visible_to), not the whole review."""
    return AccessReview.objects.restrict(user, READ)


def review_decisions_visible_to(user: User, review_id: int) -> QuerySet[ReviewDecision] | None:
    """The decisions of one review that `user` may read: all of them for the readers of its
    catalog, those they review for a reviewer; None when they may see nothing of it."""
    if reviews_visible_to(user).filter(pk=review_id).exists():
        return ReviewDecision.objects.filter(review_id=review_id)
    mine = reviewable_decisions(user).filter(review_id=review_id)
    return mine if mine.exists() else None


# Requests: the requestor, the target, the catalog's readers.

def own_requests(user: User) -> QuerySet[AssignmentRequest]:
    """The requests `user` made or that are for them: what My Access shows them."""
    return AssignmentRequest.objects.filter(Q(requestor=user) | Q(target=user))


def requests_visible_to(user: User) -> QuerySet[AssignmentRequest]:
    everything = AssignmentRequest.objects.all()
    if _reads_everything(user):
        return everything
    readable = everything.restrict(user, READ)
    return everything.filter(Q(pk__in=readable.values("pk")) | Q(requestor=user)
                             | Q(target=user))


# Approvals: the approvers of the request's stages, the catalog's readers.

def approver_stages(user: User) -> QuerySet[ApprovalStage]:
    """The stages naming `user` as an approver (pending or decided by anyone), except on their
    own requests: what the Approvals pages show them."""
    return (ApprovalStage.objects.filter(stage_approvers__user=user)
            .exclude(request__target=user).exclude(request__requestor=user))


def approvals_visible_to(user: User) -> QuerySet[AssignmentRequest]:
    """The requests with an approval (stages) that `user` may see: Graph's approval has the
    request's id."""
    with_stages = AssignmentRequest.objects.filter(
        pk__in=ApprovalStage.objects.values("request_id"))
    if _reads_everything(user):
        return with_stages
    readable = AssignmentRequest.objects.restrict(user, READ)
    return with_stages.filter(Q(pk__in=readable.values("pk"))
                              | Q(pk__in=approver_stages(user).values("request_id")))


# Assignments: the target, their manager while it lasts, the catalog's readers.

def own_assignments(user: User) -> QuerySet[Assignment]:
    return Assignment.objects.filter(target=user)


def team_assignments(manager: User) -> QuerySet[Assignment]:
    """The active assignments of `manager`'s direct reports: what Manage team shows."""
    return Assignment.objects.filter(target__manager=manager, state__in=ASSIGNMENT_ACTIVE)


def assignments_visible_to(user: User) -> QuerySet[Assignment]:
    everything = Assignment.objects.all()
    if _reads_everything(user):
        return everything
    readable = everything.restrict(user, READ)
    return everything.filter(Q(pk__in=readable.values("pk")) | Q(target=user)
                             | Q(target__manager=user, state__in=ASSIGNMENT_ACTIVE))


# Connected organizations, the directory and the tenant's settings, which belong to no catalog.

def may_read_organizations(user: User) -> bool:
    """Connected organization administrators (and global administrators), and anyone with a
    catalog role: catalog people choose organizations in policies."""
    return has_global_role(user, GlobalRole.CONNECTED_ORG_ADMIN) or can_anywhere(user, READ)


def organizations_visible_to(user: User) -> QuerySet[ConnectedOrganization]:
    if not may_read_organizations(user):
        return ConnectedOrganization.objects.none()
    return ConnectedOrganization.objects.all()


def sees_whole_directory(user: User) -> bool:
    """Whoever may use the admin (a global, catalog or connected organization role; API
    clients are global administrators) sees all people and groups; anyone else themselves."""
    return can_use_admin(user)


def users_visible_to(user: User) -> QuerySet[User]:
    """People, never API clients' service principals."""
    people = User.objects.exclude(user_type=UserType.SERVICE)
    return people if sees_whole_directory(user) else people.filter(pk=user.pk)


def groups_visible_to(user: User) -> QuerySet[Group]:
    if sees_whole_directory(user):
        return Group.objects.all()
    return Group.objects.filter(pk__in=user.group_memberships.values("group_id"))


def may_read_tenant_settings(user: User) -> bool:
    return can_use_admin(user)
