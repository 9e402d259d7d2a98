"""What the joiner/mover/leaver services (governance.services.people) do to a person's access
and to the work that waits on them. Each function runs in the caller's transaction, with the
person's row locked by the caller.

The leaver goes through the services' own functions: the removal of assignments (which
queues the revocations in every target system for after the commit), the request lifecycle,
and the approvals and reviews handed on in governance.services.internal.handover. Locks are
taken in the services' order: the person, their requests, the stages, the reviews, then the
assignments.
"""

from django.db.models import Q

from governance import clock
from governance.choices import (
    ASSIGNMENT_ACTIVE,
    AccountState,
    EndReason,
    RequestCause,
    RequestState,
    StageState,
)
from governance.models import (
    ApprovalStage,
    Assignment,
    AssignmentRequest,
    PersonalToken,
    StageApprover,
    User,
)
from governance.services.audit import audit_record
from governance.services.expiry import assignments_end
from governance.services.internal.bulk import ids_in
from governance.services.internal.handover import (
    reviews_hand_on,
    stages_hand_on,
    stages_reroute,
)
from governance.services.outbox import email, notify_messages
from governance.services.request_lifecycle import requests_move

# What a requestor may still withdraw (request_cancel's states); a request delivering ends
# with its assignment.
CANCELABLE = [RequestState.SUBMITTED, RequestState.PENDING_APPROVAL, RequestState.SCHEDULED]


def _requests_cancel(person: User, *, actor: User | None) -> int:
    """The person's open requests, made by them or for them, canceled by the portal; the
    approvers of their pending stages are told the stage no longer waits for them."""
    canceled = requests_move(
        AssignmentRequest.objects.filter(Q(requestor=person) | Q(target=person)),
        from_states=CANCELABLE, to=RequestState.CANCELED, cause=RequestCause.SYSTEM,
        actor=actor, status=f"Canceled: {person} was deactivated",
        details={"reason": EndReason.USER_DEACTIVATED})
    if not canceled:
        return 0
    stages = ApprovalStage.objects.filter(request_id__in=ids_in(canceled),
                                          state=StageState.IN_PROGRESS)
    approvers = list(StageApprover.objects.filter(stage__in=stages).exclude(user__email="")
                     .values_list("stage_id", "stage__request_id", "user_id", "user__email"))
    stages.update(state=StageState.SKIPPED, completed_at=clock.now())
    # As request_cancel's stage_tell_approvers, for every stage in one INSERT.
    notify_messages([
        email(topic="approval_canceled", recipient_id=user_id, to_address=address,
              payload={"request_id": request_id, "stage_id": stage_id,
                       "departed": str(person)},
              dedupe_key=f"approval_canceled:{stage_id}:{user_id}")
        for stage_id, request_id, user_id, address in approvers])
    return len(canceled)


def person_deactivate_locked(person: User, *, actor: User | None, reason: str) -> dict:
    """The leaver. Sign-in is refused at once (is_active: Django's backends then refuse the
    person's sessions on their next request) and their API tokens are revoked; their open
    requests are canceled, the approvals and reviews they owe handed on, and every
    assignment they hold ends (userDeactivated), its roles revoked after the commit.

    Set-based: the statements do not grow with the person's assignments. Returns the counts,
    which the audit event records too.
    """
    now = clock.now()
    person.is_active, person.deactivated_at = False, now
    # Saved first: approvers and reviewers are found among active people only.
    person.save(update_fields=["is_active", "deactivated_at", "modified_at"])
    counts = {"tokensRevoked": PersonalToken.objects.filter(
        user=person, revoked_at__isnull=True).update(revoked_at=now)}
    counts["requestsCanceled"] = _requests_cancel(person, actor=actor)
    counts["stagesHandedOn"] = stages_hand_on(person, actor=actor)
    counts["reviewsHandedOn"] = reviews_hand_on(person, actor=actor)
    held = Assignment.objects.filter(target=person, state__in=ASSIGNMENT_ACTIVE)
    counts["assignmentsEnded"] = len(assignments_end(
        assignment_ids=list(held.values_list("pk", flat=True)),
        reason=EndReason.USER_DEACTIVATED, actor=actor, tell_target=False))
    audit_record(actor=actor, action="user.deactivated", obj=person,
                 before={"active": True}, after={"active": False},
                 details={"reason": reason, **counts})
    return counts


def person_reactivate_locked(person: User, *, actor: User | None) -> None:
    """Sign-in again; what the leaver removed stays removed. A governed guest whom the guest
    lifecycle blocked when the leaver removed their last package stays blocked until a
    package is assigned again (that lifecycle's own rule: a guest signs in for access)."""
    person.is_active, person.deactivated_at = True, None
    person.save(update_fields=["is_active", "deactivated_at", "modified_at"])
    audit_record(actor=actor, action="user.reactivated", obj=person,
                 before={"active": False}, after={"active": True})


def person_delete_locked(person: User, *, actor: User | None) -> None:
    """Gone from the directory's lists (SCIM answers 404); the row stays for the history."""
    person.account_state, person.deleted_at = AccountState.DELETED, clock.now()
    person.set_unusable_password()
    person.save(update_fields=["account_state", "deleted_at", "password", "modified_at"])
    audit_record(actor=actor, action="user.deleted", obj=person,
                 before={"accountState": AccountState.ACTIVE},
                 after={"accountState": AccountState.DELETED})


def reroute_manager_stages(person: User, *, old_manager: User | None,
                           new_manager: User | None, actor: User | None) -> int:
    """The mover: pending manager-approval stages of the person's requests go to the new
    manager (`person.manager`, saved by the caller: `new_manager`), or to the fallback
    approvers when there is none or it is the requestor. Returns how many stages moved."""
    return stages_reroute(person, old_manager=old_manager, actor=actor)
