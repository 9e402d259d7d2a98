"""Ending assignments (expiry, removal) and warning people before their access expires."""

from datetime import timedelta

from django.db import transaction

from governance import clock
from governance.choices import (
    ASSIGNMENT_ACTIVE,
    AssignmentState,
    CustomExtensionStage,
    DeliveryAction,
    DeliveryState,
    EndReason,
    RequestCause,
    RequestState,
    StageState,
)
from governance.models import (
    ApprovalStage,
    Assignment,
    AssignmentRequest,
    RoleDelivery,
    User,
)
from governance.services.audit import audit_record_many
from governance.services.delivery import deliveries_revoke, granted_elsewhere
from governance.services.extensions import extensions_launch_for_assignments
from governance.services.guests import guests_after_access_lost
from governance.services.internal.bulk import ids_in
from governance.services.internal.dispatch import deliveries_after_commit
from governance.services.outbox import email, notify_messages
from governance.services.request_lifecycle import requests_move

KEPT_NOTE = "Kept: another active assignment still grants this role."


def _cancel_pending_extensions(assignment_ids: list[int], now) -> None:
    """Extensions still waiting for approval have nothing left to extend.

    One being decided at this moment is skipped rather than waited for (waiting could
    deadlock with the decision, which locks the request before the assignment); that decision
    finds the assignment ended and closes the request itself.
    """
    waiting = [RequestState.SUBMITTED, RequestState.PENDING_APPROVAL, RequestState.SCHEDULED]
    ids = requests_move(
        AssignmentRequest.objects.filter(assignment_id__in=ids_in(assignment_ids)),
        from_states=waiting, to=RequestState.CANCELED, cause=RequestCause.SYSTEM,
        status="Access ended before the extension was decided", skip_locked=True,
        details={"reason": "The access to extend has ended."})
    if ids:
        ApprovalStage.objects.filter(request_id__in=ids, state=StageState.IN_PROGRESS).update(
            state=StageState.SKIPPED, completed_at=now)


def assignments_end(*, assignment_ids: list[int], reason: str,
                    actor: User | None = None, tell_target: bool = True) -> list[int]:
    """End active assignments set-based; queue revocation of roles nothing else still grants.

    Runs inside the caller's transaction. Returns the ids that were active and are now ended.
    `tell_target` False: no access_ended email (the leaver, who has left, gets none).
    """
    now = clock.now()
    rows = list(Assignment.objects.filter(pk__in=ids_in(assignment_ids),
                                          state__in=ASSIGNMENT_ACTIVE)
                .select_for_update(of=("self",)).order_by("id")
                .values("id", "state", "target_id", "target__email",
                        "policy__send_assignment_emails"))
    if not rows:
        return []
    ended = [row["id"] for row in rows]
    action = "assignment.expired" if reason == EndReason.EXPIRED else "assignment.removed"
    Assignment.objects.filter(pk__in=ids_in(ended)).update(
        state=AssignmentState.EXPIRED, status=EndReason(reason).label, ended_at=now,
        end_reason=reason)
    # A request still delivering would stay open for ever and refuse every new request.
    requests_move(AssignmentRequest.objects.filter(assignment_id__in=ids_in(ended)),
                  from_states=[RequestState.DELIVERING], to=RequestState.DELIVERY_FAILED,
                  cause=RequestCause.SYSTEM, status="Access ended before delivery finished")
    _cancel_pending_extensions(ended, now)
    deliveries = RoleDelivery.objects.filter(assignment_id__in=ids_in(ended),
                                             action=DeliveryAction.GRANT)
    deliveries.filter(granted_elsewhere()).update(
        action=DeliveryAction.REVOKE, state=DeliveryState.DONE, note=KEPT_NOTE,
        completed_at=now, next_attempt_at=None)
    audit_record_many(actor=actor, action=action, object_type="assignment", entries=[
        (row["id"], {"state": row["state"]}, {"state": AssignmentState.EXPIRED,
                                              "endReason": reason}, {})
        for row in rows])
    notify_messages([
        email(topic="access_ended", recipient_id=row["target_id"],
              to_address=row["target__email"], payload={"assignment_id": row["id"]},
              dedupe_key=f"access_ended:{row['id']}:{row['target_id']}")
        for row in rows if tell_target and row["policy__send_assignment_emails"] is not False])
    extensions_launch_for_assignments(stage=CustomExtensionStage.REQUEST_REMOVED,
                                      assignment_ids=ended)
    if deliveries_revoke(ended):
        deliveries_after_commit(ended)
    guests_after_access_lost(user_ids={row["target_id"] for row in rows}, actor=actor)
    return ended


def assignments_expire_due(*, batch_size: int = 1000) -> int:
    """Expire every assignment whose end has come, a batch per transaction."""
    expired, after_id = 0, 0
    while True:
        with transaction.atomic():
            # Past the last batch, so that the primary-key walk does not step over every row
            # already expired (quadratic in the number due). A row skipped because another
            # worker held it is that worker's, or the next sweep's.
            ids = list(Assignment.objects.filter(state__in=ASSIGNMENT_ACTIVE,
                                                 expires_at__lte=clock.now(), pk__gt=after_id)
                       .select_for_update(skip_locked=True).order_by("id")
                       .values_list("id", flat=True)[:batch_size])
            if ids:
                assignments_end(assignment_ids=ids, reason=EndReason.EXPIRED)
        expired += len(ids)
        if len(ids) < batch_size:
            return expired
        after_id = ids[-1]


# (days before expiry, field that records the warning). The 14-day warning is only for
# assignments that still have more than a day left; shorter ones get the 1-day warning alone.
WARNINGS = ((14, "warned_14_days_at", 1), (1, "warned_1_day_at", 0))
WARNING_STAGES = {14: CustomExtensionStage.FOURTEEN_DAYS, 1: CustomExtensionStage.ONE_DAY}


def assignments_warn_expiring(*, batch_size: int = 1000) -> int:
    """Queue the 14-day and 1-day expiry warnings, once per assignment and expiry date."""
    warned = 0
    for days, field, floor_days in WARNINGS:
        while True:
            now = clock.now()
            with transaction.atomic():
                due = list(Assignment.objects.filter(
                    state__in=[AssignmentState.DELIVERED, AssignmentState.PARTIALLY_DELIVERED],
                    expires_at__gt=now + timedelta(days=floor_days),
                    expires_at__lte=now + timedelta(days=days), **{f"{field}__isnull": True},
                ).select_for_update(skip_locked=True, of=("self",))
                    .select_related("policy", "target").order_by("id")[:batch_size])
                Assignment.objects.filter(pk__in=[a.pk for a in due]).update(**{field: now})
                audit_record_many(actor=None, action="assignment.expiryWarningQueued",
                                  object_type="assignment", entries=[
                                      (a.pk, None, None, {"days": days,
                                                          "expiresAt": a.expires_at.isoformat()})
                                      for a in due])
                notify_messages([
                    email(topic="access_expiring", recipient_id=a.target_id,
                          to_address=a.target.email,
                          payload={"assignment_id": a.pk, "days": days},
                          dedupe_key=f"access_expiring:{days}:{a.pk}:{a.expires_at.isoformat()}")
                    for a in due if a.policy is None or a.policy.send_assignment_emails])
                extensions_launch_for_assignments(stage=WARNING_STAGES[days],
                                                  assignment_ids=[a.pk for a in due])
            warned += len(due)
            if len(due) < batch_size:
                break
    return warned
