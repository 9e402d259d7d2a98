"""Delivery rows as connector changes, and back: which connector and system each row goes
to, the person's id there when an earlier change learned it, and the ids learned now."""

from collections import defaultdict

from governance.connectors import ChangeResult, ConnectorError, RoleChange, get_connector
from governance.models import SystemAccount, TargetSystem
from governance.services.internal.bulk import ids_in

# What a connector needs to know of a delivery row.
CHANGE_FIELDS = ("id", "action", "attempts", "assignment_id", "assignment__target_id",
                 "assignment__target__email", "assignment__target__display_name",
                 "role__origin_id", "role__resource__origin_id",
                 "role__resource__origin_system", "role__resource__connector",
                 "role__resource__system_id")


def _known_accounts(claimed: list[dict]) -> dict[tuple[int, int], str]:
    """(system id, user id) → the person's id in that system, for the users of these rows."""
    systems = {row["role__resource__system_id"] for row in claimed} - {None}
    if not systems:
        return {}
    users = {row["assignment__target_id"] for row in claimed}
    return {(system_id, user_id): external_id
            for system_id, user_id, external_id in SystemAccount.objects.filter(
                system_id__in=systems, user_id__in=ids_in(users)).values_list(
                "system_id", "user_id", "external_id")}


def apply_changes(claimed: list[dict]) -> dict[int, ChangeResult]:
    known = _known_accounts(claimed)
    by_connector = defaultdict(list)
    for row in claimed:
        system_id, user_id = row["role__resource__system_id"], row["assignment__target_id"]
        by_connector[row["role__resource__connector"], system_id].append(RoleChange(
            delivery_id=row["id"], action=row["action"], user_id=user_id,
            user_email=row["assignment__target__email"],
            user_display_name=row["assignment__target__display_name"],
            user_external_id=known.get((system_id, user_id), ""),
            origin_system=row["role__resource__origin_system"],
            resource_origin_id=row["role__resource__origin_id"],
            role_origin_id=row["role__origin_id"]))
    systems = TargetSystem.objects.in_bulk({system_id for _, system_id in by_connector} - {None})
    results = {}
    for (key, system_id), changes in by_connector.items():
        try:
            outcome = get_connector(key, systems.get(system_id)).apply(changes)
        except ConnectorError as exc:
            outcome = [ChangeResult.failed(c.delivery_id, exc) for c in changes]
        except Exception as exc:  # noqa: BLE001 - a broken target must not lose the batch
            outcome = [ChangeResult(c.delivery_id, f"{type(exc).__name__}: {exc}")
                       for c in changes]
        results.update({result.delivery_id: result for result in outcome})
    return results


def remember_accounts(rows: list[dict], results: dict[int, ChangeResult]) -> None:
    """Record the ids that connectors found or created for people in their systems."""
    learned = {(row["role__resource__system_id"], row["assignment__target_id"]):
               results[row["id"]].external_user_id for row in rows
               if results[row["id"]].external_user_id and row["role__resource__system_id"]}
    if learned:
        SystemAccount.objects.bulk_create(
            [SystemAccount(system_id=system_id, user_id=user_id, external_id=external_id)
             for (system_id, user_id), external_id in learned.items()],
            update_conflicts=True, unique_fields=["system", "user"],
            update_fields=["external_id"])
