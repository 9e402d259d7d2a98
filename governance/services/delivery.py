"""Delivering an approved request: the assignment, and each resource role into its system.

Per role: claim (mark in flight, commit), call the connector outside any transaction, record
the result with compare-and-set, retry with backoff. Rows stuck in flight are claimed again;
connectors are idempotent, so doing a change twice is harmless. Rows become connector
changes, and results come back, in delivery_changes.py.
"""

from collections import defaultdict
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet
from django.db.models.functions import Coalesce

from governance import clock
from governance.choices import (
    ASSIGNMENT_ACTIVE,
    UPDATE_TYPES,
    AssignmentState,
    DeliveryAction,
    DeliveryState,
    RequestCause,
    RequestState,
)
from governance.connectors import ChangeResult, in_transaction_connector_keys
from governance.models import (
    AccessPackage,
    Assignment,
    AssignmentRequest,
    RoleDelivery,
    User,
)
from governance.selectors.permissions import can_manage_assignments
from governance.services.audit import audit_record, audit_record_many
from governance.services.delivery_changes import CHANGE_FIELDS, apply_changes, remember_accounts
from governance.services.errors import NotAllowed, NotFound
from governance.services.guests import guest_on_assignment
from governance.services.internal.bulk import ids_in
from governance.services.internal.dispatch import deliveries_after_commit
from governance.services.internal.retry import retry_at
from governance.services.internal.validation import policy_latest_end
from governance.services.outbox import email, notify_messages
from governance.services.request_lifecycle import (
    Delivered,
    StartDue,
    Step,
    performs,
    request_advance,
    request_move,
    requests_move,
)

MAX_ATTEMPTS = 6
STUCK_AFTER = timedelta(minutes=10)


def _extend(request: AssignmentRequest, assignment: Assignment, *, actor: User | None,
            cause: str) -> None:
    new_end = request.schedule_end_at
    if new_end is None and request.policy is not None:
        new_end = policy_latest_end(request.policy, clock.now())
    before = assignment.expires_at
    if before is not None and (new_end is None or new_end > before):
        assignment.expires_at = new_end
        assignment.warned_14_days_at = assignment.warned_1_day_at = None
        assignment.save(update_fields=["expires_at", "warned_14_days_at", "warned_1_day_at"])
    request_move(request, to=RequestState.DELIVERED, cause=cause, actor=actor,
                 assignment=assignment,
                 status="Extended" if assignment.expires_at != before else "Already lasts longer")
    audit_record(actor=actor, action="assignment.extended", obj=assignment,
                 before={"expiresAt": before and before.isoformat()},
                 after={"expiresAt": assignment.expires_at and assignment.expires_at.isoformat()},
                 details={"request": request.pk})


def _hold_package_roles(package_id: int) -> None:
    """Keep the package's roles as they are until this transaction ends.

    package_role_add / package_role_remove lock the package row FOR UPDATE, then deliver to
    (or take from) the assignments they see. This key-share lock waits for them to commit,
    and makes them wait for the assignment being created, so that one always sees the
    other. (The foreign key would take the same lock, but only at commit: too late.)
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            table = AccessPackage._meta.db_table
            query = f"SELECT 1 FROM {table} WHERE id = %s FOR KEY SHARE"  # nosec B608  # model's table
            cursor.execute(query, [package_id])


@performs(Step.DELIVERY)
def delivery_start(request: AssignmentRequest, *, actor: User | None, cause: str) -> None:
    """The request is approved (or needs no approval) and its start has come: create or
    extend the assignment. `cause` is who set delivery off (the table's cause).

    Called inside the caller's transaction, with the request locked or just created.
    """
    now = clock.now()
    existing = Assignment.objects.select_for_update().filter(
        target_id=request.target_id, access_package_id=request.access_package_id,
        state__in=ASSIGNMENT_ACTIVE).first()
    if existing is not None:
        # An extension, or an approval that arrived after someone assigned the package directly.
        _extend(request, existing, actor=actor, cause=cause)
        return
    if request.request_type in UPDATE_TYPES:
        request_move(request, to=RequestState.DELIVERY_FAILED, cause=cause, actor=actor,
                     status="The access to extend has ended")
        return
    _hold_package_roles(request.access_package_id)
    start = request.schedule_start_at or now
    end = request.schedule_end_at or (policy_latest_end(request.policy, start)
                                      if request.policy else None)
    assignment = Assignment.objects.create(
        access_package_id=request.access_package_id, policy=request.policy,
        target_id=request.target_id, state=AssignmentState.DELIVERING, status="Delivering",
        start_at=start, expires_at=end, created_at=now)
    roles = list(request.access_package.role_scopes.values_list("role_id", flat=True))
    RoleDelivery.objects.bulk_create([
        RoleDelivery(assignment=assignment, role_id=role_id, next_attempt_at=now)
        for role_id in roles])
    request_move(request, to=RequestState.DELIVERING, cause=cause, actor=actor,
                 status="Delivering", assignment=assignment)
    guest_on_assignment(user_id=request.target_id, actor=actor)
    audit_record(actor=actor, action="assignment.created", obj=assignment, after={
        "accessPackage": request.access_package_id, "target": request.target_id,
        "startAt": start.isoformat(), "expiresAt": end and end.isoformat(),
        "roles": len(roles)}, details={"request": request.pk})
    assignments_refresh([assignment.pk])
    deliveries_after_commit([assignment.pk])


def _due(now: datetime) -> tuple[tuple[Q, str], ...]:
    """(condition, order) of the rows ready to try, then of those stuck in flight.

    Two queries rather than one OR: each walks the (state, next_attempt_at) index in order and
    stops at the batch size, where the OR made PostgreSQL sort every due row for each batch.
    """
    ready = Q(state=DeliveryState.PENDING, next_attempt_at__lte=now)
    stuck = Q(state=DeliveryState.IN_FLIGHT, claimed_at__lte=now - STUCK_AFTER)
    return (ready, "next_attempt_at"), (stuck, "claimed_at")


def _claim(assignment_ids: list[int] | None, batch_size: int) -> tuple[list[dict], datetime]:
    now = clock.now()
    with transaction.atomic():
        ids = []
        for condition, order in _due(now):
            rows = RoleDelivery.objects.filter(condition)
            if assignment_ids is not None:
                rows = rows.filter(assignment_id__in=assignment_ids)
            ids += rows.select_for_update(skip_locked=True).order_by(order).values_list(
                "id", flat=True)[:batch_size - len(ids)]
            if len(ids) >= batch_size:
                break
        if not ids:
            return [], now
        RoleDelivery.objects.filter(pk__in=ids).update(
            state=DeliveryState.IN_FLIGHT, claimed_at=now, attempts=F("attempts") + 1)
        claimed = list(RoleDelivery.objects.filter(pk__in=ids).values(*CHANGE_FIELDS))
    return claimed, now


def _record_results(rows: list[dict], results: dict[int, ChangeResult], *,
                    current: QuerySet, now: datetime, first_attempt: bool = False) -> None:
    """Write each result on its row, compare-and-set against `current`; audit the successes.

    `current` selects the rows still as they were when the change was made: a row that moved
    on meanwhile (an assignment ended while its grant was in flight) is left as it now is.
    With `first_attempt` the rows were never claimed and this was their first attempt.
    """
    attempt = {"attempts": 1} if first_attempt else {}
    remember_accounts(rows, results)
    succeeded = defaultdict(list)
    for row in rows:
        result = results[row["id"]]
        if result.ok:
            succeeded[row["action"]].append(row)
            continue
        # (A queryset per failure only: per row it would cost more than the successes' SQL.)
        attempts = 1 if first_attempt else row["attempts"]
        final = not result.retryable or attempts >= MAX_ATTEMPTS
        current.filter(pk=row["id"]).update(
            action=row["action"], state=DeliveryState.FAILED if final else DeliveryState.PENDING,
            last_error=result.error[:2000],
            next_attempt_at=None if final else retry_at(now, attempts, result.retry_after),
            **attempt)
    for action, done in succeeded.items():
        current.filter(pk__in=ids_in(row["id"] for row in done)).update(
            action=action, state=DeliveryState.DONE, completed_at=now, last_error="",
            next_attempt_at=None, **attempt)
        per_assignment = defaultdict(list)
        for row in done:
            per_assignment[row["assignment_id"]].append(row["role__origin_id"])
        verb = "granted" if action == DeliveryAction.GRANT else "revoked"
        audit_record_many(actor=None, action=f"assignment.roles{verb.title()}",
                          object_type="assignment", entries=[
                              (assignment_id, None, {"roles": roles}, {})
                              for assignment_id, roles in per_assignment.items()])


def _record(claimed: list[dict], results: dict[int, ChangeResult], claimed_at: datetime) -> None:
    assignment_ids = sorted({row["assignment_id"] for row in claimed})
    with transaction.atomic():
        # Assignments first: the same lock order as the services that end assignments.
        list(Assignment.objects.filter(pk__in=assignment_ids).select_for_update()
             .order_by("id").values_list("id", flat=True))
        in_flight = RoleDelivery.objects.filter(state=DeliveryState.IN_FLIGHT,
                                                claimed_at=claimed_at)
        _record_results(claimed, results, current=in_flight, now=clock.now())
        assignments_refresh(assignment_ids)


def granted_elsewhere() -> Exists:
    """For RoleDelivery rows: another active assignment of the same person grants the same
    role. The same group or app role may sit in several catalogs as distinct ResourceRole
    rows: what counts is the role in its target system, not the row."""
    # Coalesced: the portal's own groups have no system, and NULL never equals NULL.
    return Exists(RoleDelivery.objects.alias(
        system=Coalesce("role__resource__system_id", 0)).filter(
        system=Coalesce(OuterRef("role__resource__system_id"), 0),
        assignment__target_id=OuterRef("assignment__target_id"),
        role__origin_id=OuterRef("role__origin_id"),
        role__resource__origin_id=OuterRef("role__resource__origin_id"),
        role__resource__origin_system=OuterRef("role__resource__origin_system"),
        role__resource__connector=OuterRef("role__resource__connector"),
        assignment__state__in=ASSIGNMENT_ACTIVE, action=DeliveryAction.GRANT,
    ).exclude(assignment_id=OuterRef("assignment_id")))


def deliveries_revoke(assignment_ids: list[int], *, role_ids: list[int] | None = None) -> bool:
    """Turn the grants of ended assignments (or, with `role_ids`, only those of these roles,
    which their package no longer grants) into revocations. Runs in the caller's transaction.

    Roles in the portal's own groups (connectors that write only to this database) are
    revoked at once, so access ends with the transaction that ends the assignment. Other
    systems' roles, and any grant a worker has in flight, are queued for the workers.
    Returns whether any revocation waits for them.
    """
    now = clock.now()
    grants = RoleDelivery.objects.filter(assignment_id__in=ids_in(assignment_ids),
                                         action=DeliveryAction.GRANT)
    if role_ids is not None:
        grants = grants.filter(role_id__in=role_ids)
    here = list(grants.filter(role__resource__connector__in=in_transaction_connector_keys())
                .exclude(state=DeliveryState.IN_FLIGHT).values(*CHANGE_FIELDS))
    queued = grants.exclude(pk__in=ids_in(row["id"] for row in here)).update(
        action=DeliveryAction.REVOKE, state=DeliveryState.PENDING, attempts=0, last_error="",
        note="", next_attempt_at=now, claimed_at=None)
    for row in here:
        row["action"] = DeliveryAction.REVOKE
    if here:
        _record_results(here, apply_changes(here), current=grants, now=now, first_attempt=True)
    return queued > 0


def deliveries_process(*, assignment_ids: list[int] | None = None,
                       batch_size: int = 1000) -> int:
    """Carry out due deliveries (of some assignments, or all); returns how many were tried."""
    attempted = 0
    while True:
        claimed, claimed_at = _claim(assignment_ids, batch_size)
        if not claimed:
            return attempted
        _record(claimed, apply_changes(claimed), claimed_at)
        attempted += len(claimed)


def _state_from_counts(open_count: int, failed: int, done: int) -> str:
    if open_count:
        return AssignmentState.DELIVERING
    if failed and done:
        return AssignmentState.PARTIALLY_DELIVERED
    if failed:
        return AssignmentState.DELIVERY_FAILED
    return AssignmentState.DELIVERED


def assignments_refresh(assignment_ids: list[int]) -> None:
    """Derive each active assignment's state from its grant deliveries; its request goes on
    (governance.services.request_lifecycle) when they settle."""
    grants = Q(deliveries__action=DeliveryAction.GRANT)
    rows = Assignment.objects.filter(pk__in=ids_in(assignment_ids),
                                     state__in=ASSIGNMENT_ACTIVE).annotate(
        open_count=Count("deliveries", filter=grants & Q(
            deliveries__state__in=[DeliveryState.PENDING, DeliveryState.IN_FLIGHT])),
        failed=Count("deliveries", filter=grants & Q(deliveries__state=DeliveryState.FAILED)),
        done=Count("deliveries", filter=grants & Q(deliveries__state=DeliveryState.DONE)),
    ).select_related("policy", "target")
    emails, settled = [], {}
    for assignment in rows:
        state = _state_from_counts(assignment.open_count, assignment.failed, assignment.done)
        if state == assignment.state:
            continue
        before, assignment.state = assignment.state, state
        assignment.status = AssignmentState(state).label
        assignment.save(update_fields=["state", "status"])
        audit_record(actor=None, action=f"assignment.{state}", obj=assignment,
                     before={"state": before}, after={"state": state})
        if state != AssignmentState.DELIVERING:
            settled[assignment.pk] = state
        if state == AssignmentState.DELIVERED and (assignment.policy is None
                                                   or assignment.policy.send_assignment_emails):
            emails.append(email(
                topic="access_delivered", recipient_id=assignment.target_id,
                to_address=assignment.target.email, payload={"assignment_id": assignment.pk},
                dedupe_key=f"access_delivered:{assignment.pk}:{assignment.target_id}"))
    notify_messages(emails)
    request_advance(Delivered(settled))


def delivery_reprocess(*, actor: User, assignment_id: int) -> int:
    """An administrator asks for failed roles, and roles waiting to be retried (the system was
    down, say, and is back), to be tried again now. Returns how many."""
    with transaction.atomic():
        assignment = Assignment.objects.select_for_update().select_related(
            "access_package__catalog").filter(pk=assignment_id).first()
        if assignment is None:
            raise NotFound("This assignment does not exist.", code="assignmentNotFound")
        if not can_manage_assignments(actor, assignment.access_package.catalog):
            raise NotAllowed("You may not reprocess assignments of this catalog.")
        now = clock.now()
        count = assignment.deliveries.filter(state=DeliveryState.FAILED).update(
            state=DeliveryState.PENDING, attempts=0, next_attempt_at=now)
        count += assignment.deliveries.filter(state=DeliveryState.PENDING,
                                              next_attempt_at__gt=now).update(next_attempt_at=now)
        # The request that failed to deliver is delivering again, so that Request history
        # ends up saying Delivered rather than keeping the old failure.
        reopened = requests_move(
            AssignmentRequest.objects.filter(assignment=assignment),
            from_states=[RequestState.DELIVERY_FAILED, RequestState.PARTIALLY_DELIVERED],
            to=RequestState.DELIVERING, cause=RequestCause.ADMINISTRATOR, actor=actor,
            status="Delivering") if count else []
        audit_record(actor=actor, action="assignment.reprocessed", obj=assignment,
                     details={"deliveries": count, "requestsReopened": reopened})
        assignments_refresh([assignment.pk])
        deliveries_after_commit([assignment.pk])
        return count


def requests_start_scheduled(*, batch_size: int = 200) -> int:
    """Deliver scheduled requests whose start date has come."""
    started = 0
    while True:
        with transaction.atomic():
            due = list(AssignmentRequest.objects.filter(
                state=RequestState.SCHEDULED, schedule_start_at__lte=clock.now())
                .select_for_update(skip_locked=True, of=("self",))
                .select_related("policy", "access_package").order_by("id")[:batch_size])
            for request in due:
                request_advance(StartDue(request))
        started += len(due)
        if len(due) < batch_size:
            return started
