"""Where scim2-server's protocol handler reads and writes: the directory, through the people
and group services, acting as the provisioning client that called.

The handler applies a PUT or PATCH to the stored resource itself (scim2-models), then hands
the whole new resource to `update`; the services get its values and change what differs. A
service's refusal becomes the SCIM error of RFC 7644 §3.12, and its transaction has written
nothing.
"""

from contextlib import contextmanager
from typing import Any

from django.db import transaction
from scim2_models import (
    ConflictException,
    ForbiddenException,
    InvalidFilterException,
    InvalidValueException,
    NotFoundException,
    PreconditionFailedException,
    ResourceType,
    SCIMException,
    SearchRequest,
    UniquenessException,
)
from scim2_server.storage import ScimStorage, SearchPage

from governance.choices import AccountState, GroupMembershipRole, UserType
from governance.models import Group, GroupMembership, ProvisioningClient, User
from governance.scim.filters import GROUP_FIELDS, USER_FIELDS, to_condition
from governance.scim.resources import group_resource, group_values, person_values, user_resource
from governance.services import directory_groups, people
from governance.services.errors import (
    Duplicate,
    InvalidInput,
    InvalidState,
    NotAllowed,
    NotFound,
    Refused,
)


def scim_error(refused: Refused) -> SCIMException:
    if isinstance(refused, Duplicate):
        return UniquenessException(detail=refused.message)
    if isinstance(refused, NotFound):
        return NotFoundException(detail=refused.message)
    if isinstance(refused, NotAllowed):
        return ForbiddenException(detail=refused.message)
    if isinstance(refused, InvalidState):
        return ConflictException(detail=refused.message)
    if isinstance(refused, InvalidInput):
        return InvalidValueException(detail=refused.message)
    return InvalidValueException(detail=refused.message)


def _id(resource_id) -> int:
    try:
        return int(resource_id)
    except (TypeError, ValueError):
        raise NotFoundException(detail=f"There is no resource {resource_id}.") from None


def directory_people():
    """The people SCIM shows: members and guests, not API clients, not deleted."""
    return User.objects.exclude(user_type=UserType.SERVICE) \
        .exclude(account_state=AccountState.DELETED).select_related("manager")


class PortalStorage(ScimStorage):
    def __init__(self, client: ProvisioningClient):
        self.client = client
        self.actor = client.principal

    @contextmanager
    def operation(self):
        try:
            with transaction.atomic():
                yield
        except Refused as refused:
            raise scim_error(refused) from None

    # -- reading --

    def _groups(self):
        return Group.objects.filter(provisioned_by=self.client)

    def _group_members(self, group_ids: list[int]) -> dict[int, list]:
        rows: dict[int, list] = {group_id: [] for group_id in group_ids}
        memberships = GroupMembership.objects.filter(
            group_id__in=group_ids, role=GroupMembershipRole.MEMBER).order_by("user_id")
        for group_id, user_id, name, email in memberships.values_list(
                "group_id", "user_id", "user__display_name", "user__email"):
            rows[group_id].append((user_id, name, email))
        return rows

    def get(self, resource_type: ResourceType, resource_id: str, *,
            response_parameters=None):
        if resource_type.name == "User":
            person = directory_people().filter(pk=_id(resource_id)).first()
            if person is None:
                raise NotFoundException(detail=f"There is no user {resource_id}.")
            return user_resource(person)
        group = self._groups().filter(pk=_id(resource_id)).first()
        if group is None:
            raise NotFoundException(detail=f"There is no group {resource_id}.")
        return group_resource(group, self._group_members([group.pk])[group.pk])

    def _found(self, resource_type: ResourceType, search_request: SearchRequest[Any]):
        """The matching rows of one resource type, in a stable order."""
        is_user = resource_type.name == "User"
        rows = directory_people() if is_user else self._groups()
        if search_request.filter is not None:
            try:
                condition = to_condition(search_request.filter.ast,
                                         USER_FIELDS if is_user else GROUP_FIELDS)
            except InvalidFilterException:
                if search_request.filter.models and len(search_request.filter.models) > 1:
                    return rows.none()  # a root search: an attribute of the other type
                raise
            rows = rows.filter(condition).distinct()
        return rows.order_by("pk")

    def _resources(self, resource_type: ResourceType, rows) -> list:
        if resource_type.name == "User":
            return [user_resource(person) for person in rows]
        members = self._group_members([group.pk for group in rows])
        return [group_resource(group, members[group.pk]) for group in rows]

    def search(self, resource_types: list[ResourceType], search_request: SearchRequest[Any],
               *, position: Any = None) -> SearchPage:
        """One page of the resources of `resource_types` (several: a search at the root,
        users first, then groups)."""
        start = max((search_request.start_index or 1) - 1, 0)
        left = search_request.count
        total, page = 0, []
        for resource_type in resource_types:
            rows = self._found(resource_type, search_request)
            count = rows.count()
            skip = min(start, count)
            start -= skip
            total += count
            if left is None or left > 0:
                taken = list(rows[skip:skip + left] if left is not None else rows[skip:])
                page += self._resources(resource_type, taken)
                left = None if left is None else left - len(taken)
        return SearchPage(total=total, resources=page)

    # -- writing --

    def create(self, resource_type: ResourceType, resource):
        if resource_type.name == "User":
            person = people.person_create(actor=self.actor, values=person_values(resource))
            return user_resource(person)  # as saved: no second read
        group = directory_groups.provisioned_group_create(actor=self.actor,
                                                          values=group_values(resource))
        return self.get(resource_type, group.pk)

    def _check_version(self, resource_type, resource_id, expected_version) -> None:
        if expected_version is None:
            return
        current = self.get(resource_type, resource_id)
        if current.meta.version != expected_version:
            raise PreconditionFailedException(
                detail="The resource changed since it was read; read it again.")

    def update(self, resource_type: ResourceType, resource, *, expected_version=None):
        self._check_version(resource_type, resource.id, expected_version)
        if resource_type.name == "User":
            people.person_update(actor=self.actor, user_id=_id(resource.id),
                                 changes=person_values(resource))
        else:
            directory_groups.provisioned_group_update(actor=self.actor,
                                                      group_id=_id(resource.id),
                                                      changes=group_values(resource))
        return self.get(resource_type, resource.id)

    def delete(self, resource_type: ResourceType, resource_id: str, *, expected_version=None):
        self._check_version(resource_type, resource_id, expected_version)
        if resource_type.name == "User":
            people.person_delete(actor=self.actor, user_id=_id(resource_id))
        else:
            directory_groups.provisioned_group_delete(actor=self.actor,
                                                      group_id=_id(resource_id))
