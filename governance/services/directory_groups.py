"""Groups pushed by an identity provider over SCIM (governance.scim): created, renamed, their
members set, deleted. A provisioning client sees and changes only the groups it made; the
portal's own groups (governance.services.groups) are not its to change.

Members are people ids; changes are set-based (a group of 50,000 members is two statements)
and audited as one event with what was added and removed.
"""

from collections.abc import Mapping

from django.db import transaction

from governance.choices import AccountState, GroupMembershipRole, UserType
from governance.models import Group, GroupMembership, ProvisioningClient, Resource, User
from governance.services.audit import audit_record
from governance.services.errors import Duplicate, InvalidInput, NotAllowed, NotFound
from governance.services.internal.bulk import ids_in
from governance.services.internal.config_checks import clean_name, max_length

GROUP_FIELDS = ("display_name", "external_id", "member_ids", "scim_extra")
NAME_MAX = max_length(Group, "display_name")
EXTERNAL_ID_MAX = max_length(Group, "external_id")
MEMBER = GroupMembershipRole.MEMBER


def _client(actor: User | None) -> ProvisioningClient:
    client = getattr(actor, "provisioning_client", None) if actor is not None else None
    if client is None or not client.is_active:
        raise NotAllowed("Only a provisioning client changes the groups it provisions.")
    return client


def _member_ids(raw) -> list[int]:
    wanted = list(dict.fromkeys(raw or []))
    try:
        wanted = [int(value) for value in wanted]
    except (TypeError, ValueError):
        raise InvalidInput("A member is given by the id of a person.", field="member_ids",
                           code="invalidValue") from None
    found = set(User.objects.filter(pk__in=ids_in(wanted)).exclude(user_type=UserType.SERVICE)
                .exclude(account_state=AccountState.DELETED).values_list("pk", flat=True))
    missing = [value for value in wanted if value not in found]
    if missing:
        raise InvalidInput(f"There is no person {missing[0]} to be a member.",
                           field="member_ids", code="memberNotFound")
    return wanted


def _cleaned(values: Mapping, client: ProvisioningClient, group: Group | None) -> dict:
    unknown = sorted(set(values) - set(GROUP_FIELDS))
    if unknown:
        raise InvalidInput(f"{unknown[0]} is not an attribute of a group.", field=unknown[0],
                           code="unknownField")
    cleaned = dict(values)
    if "display_name" in values:
        cleaned["display_name"] = clean_name(values["display_name"], field="display_name",
                                             what="group", max_length=NAME_MAX)
    if "external_id" in values:
        external_id = (values["external_id"] or "").strip()
        if len(external_id) > EXTERNAL_ID_MAX:
            raise InvalidInput(f"externalId is longer than {EXTERNAL_ID_MAX} characters.",
                               field="external_id", code="tooLong")
        others = Group.objects.filter(provisioned_by=client, external_id=external_id)
        if external_id and others.exclude(pk=group.pk if group else None).exists():
            raise Duplicate(f"A group has the external id {external_id} already.",
                            code="uniqueness")
        cleaned["external_id"] = external_id
    if "member_ids" in values:
        cleaned["member_ids"] = _member_ids(values["member_ids"])
    if "scim_extra" in values:
        cleaned["scim_extra"] = values["scim_extra"] or None
    return cleaned


def _set_members(group: Group, member_ids: list[int]) -> tuple[int, int]:
    """(added, removed): the group's members become exactly `member_ids`."""
    current = set(GroupMembership.objects.filter(group=group, role=MEMBER)
                  .values_list("user_id", flat=True))
    wanted = set(member_ids)
    removed = GroupMembership.objects.filter(group=group, role=MEMBER,
                                             user_id__in=ids_in(current - wanted)).delete()[0]
    GroupMembership.objects.bulk_create(
        [GroupMembership(group=group, user_id=user_id, role=MEMBER)
         for user_id in sorted(wanted - current)], ignore_conflicts=True, batch_size=5000)
    return len(wanted - current), removed


@transaction.atomic
def provisioned_group_create(*, actor: User | None, values: Mapping) -> Group:
    client = _client(actor)
    cleaned = _cleaned(values, client, None)
    if "display_name" not in cleaned:
        raise InvalidInput("A group needs a display name.", field="display_name",
                           code="invalidValue")
    members = cleaned.pop("member_ids", [])
    group = Group.objects.create(provisioned_by=client, **cleaned)
    added, _ = _set_members(group, members)
    audit_record(actor=actor, action="group.provisioned", obj=group,
                 after={"displayName": group.display_name, "externalId": group.external_id,
                        "members": added})
    return group


def _group_locked(actor: User | None, group_id) -> tuple[Group, ProvisioningClient]:
    client = _client(actor)
    group = Group.objects.select_for_update().filter(pk=group_id, provisioned_by=client).first()
    if group is None:
        raise NotFound(f"There is no group {group_id}.", code="groupNotFound")
    return group, client


@transaction.atomic
def provisioned_group_update(*, actor: User | None, group_id, changes: Mapping) -> Group:
    """Change what `changes` names; member_ids, when given, is the whole new membership."""
    group, client = _group_locked(actor, group_id)
    cleaned = _cleaned(changes, client, group)
    members = cleaned.pop("member_ids", None)
    before = {"displayName": group.display_name, "externalId": group.external_id}
    for field, value in cleaned.items():
        setattr(group, field, value)
    group.save()
    added, removed = _set_members(group, members) if members is not None else (0, 0)
    after = {"displayName": group.display_name, "externalId": group.external_id}
    if after != before or added or removed:
        audit_record(actor=actor, action="group.updated", obj=group, before=before,
                     after=after, details={"membersAdded": added, "membersRemoved": removed})
    return group


@transaction.atomic
def provisioned_group_delete(*, actor: User | None, group_id) -> None:
    group, _ = _group_locked(actor, group_id)
    if Resource.objects.filter(connector="local", origin_id=str(group.pk)).exists():
        raise NotAllowed(f"{group.display_name} is offered in a catalog; remove it there "
                         "first.", code="groupInUse")
    audit_record(actor=actor, action="group.deleted", obj=group,
                 before={"displayName": group.display_name, "externalId": group.external_id})
    group.delete()
