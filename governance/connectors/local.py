"""Membership of the portal's own directory groups (resource originId = group id)."""

from collections import defaultdict

from django.db import transaction
from django.db.models import Q

from governance.choices import DeliveryAction, GroupMembershipRole
from governance.connectors.base import ChangeResult, Connector, ConnectorError, Person, RoleChange
from governance.models import Group, GroupMembership


def _membership_key(change: RoleChange) -> tuple[int, str]:
    """(group id, Member|Owner) from originIds "12" and "Member_12"."""
    try:
        group_id = int(change.resource_origin_id)
    except ValueError:
        raise ConnectorError(f"“{change.resource_origin_id}” is not a group of this portal.",
                             retryable=False) from None
    role = change.role_origin_id.split("_", 1)[0]
    if role not in GroupMembershipRole.values:
        raise ConnectorError(f"Groups have no role “{change.role_origin_id}”.", retryable=False)
    return group_id, role


class LocalGroupConnector(Connector):
    key = "local"
    in_transaction = True

    def apply(self, changes: list[RoleChange]) -> list[ChangeResult]:
        results, grants, revokes = [], [], defaultdict(list)
        for change in changes:
            try:
                group_id, role = _membership_key(change)
            except ConnectorError as exc:
                results.append(ChangeResult.failed(change.delivery_id, exc))
                continue
            if change.action == DeliveryAction.GRANT:
                grants.append((change, group_id, role))
            else:
                revokes[(group_id, role)].append(change)
        results += self._grant_many(grants)
        results += self._revoke_many(revokes)
        return results

    def _grant_many(self, grants) -> list[ChangeResult]:
        existing_groups = set(Group.objects.filter(pk__in={g for _, g, _ in grants})
                              .values_list("pk", flat=True))
        results, rows = [], []
        for change, group_id, role in grants:
            if group_id not in existing_groups:
                results.append(ChangeResult(change.delivery_id,
                                            f"Group {group_id} no longer exists.", False))
                continue
            rows.append(GroupMembership(group_id=group_id, user_id=change.user_id, role=role))
            results.append(ChangeResult(change.delivery_id))
        GroupMembership.objects.bulk_create(rows, ignore_conflicts=True, batch_size=2000)
        return results

    def _revoke_many(self, revokes) -> list[ChangeResult]:
        if not revokes:
            return []
        condition = Q()
        for (group_id, role), changes in revokes.items():
            condition |= Q(group_id=group_id, role=role,
                           user_id__in=[change.user_id for change in changes])
        with transaction.atomic():
            GroupMembership.objects.filter(condition).delete()
        return [ChangeResult(change.delivery_id)
                for changes in revokes.values() for change in changes]

    def delete_user(self, person: Person) -> None:
        GroupMembership.objects.filter(user_id=person.user_id).delete()
