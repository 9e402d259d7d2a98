"""Work that waits on a person, handed on when they leave or their manager changes: the
approval stages they hold and the access reviews they owe. In the caller's transaction,
with the person's row locked (and saved inactive, for a leaver) by the caller.

Approvers and reviewers are found, added and emailed by the approvals and review services'
own functions, so a stage or a review handed on is as if it had started that way.
"""

from django.db.models import Count

from governance import clock
from governance.choices import (
    ApproverKind,
    RequestState,
    ReviewDecisionValue,
    ReviewState,
    StageState,
    SubjectSetType,
)
from governance.models import (
    AccessReview,
    ApprovalDelegation,
    ApprovalStage,
    AssignmentRequest,
    DecisionReviewer,
    ReviewReviewer,
    StageApprover,
    User,
)
from governance.models.review_settings import review_settings_from_graph
from governance.selectors.approval_moves import STAGE_REROUTED
from governance.services.approvals import (
    _add_approvers,
    _escalate,
    _manager_of,
    _resolve,
    _setting_for,
    approvers_of_set,
)
from governance.services.audit import audit_record, audit_record_many
from governance.services.outbox import notify
from governance.services.review_start import _decision_reviewers_add, _emails_queue
from governance.services.reviews import _lock_review


def _pending_stages(**conditions):
    return ApprovalStage.objects.filter(state=StageState.IN_PROGRESS,
                                        request__state=RequestState.PENDING_APPROVAL,
                                        **conditions)


def _locked_stages(stage_ids) -> list[ApprovalStage]:
    """The stages, still pending, with their requests locked first (the lock order)."""
    requests = {request.pk: request for request in AssignmentRequest.objects.filter(
        pk__in=ApprovalStage.objects.filter(pk__in=stage_ids).values("request_id"))
        .select_for_update(of=("self",)).select_related("policy", "requestor", "target")
        .order_by("pk")}
    stages = list(_pending_stages(pk__in=stage_ids).select_for_update(of=("self",))
                  .order_by("request_id", "order"))
    for stage in stages:
        stage.request = requests[stage.request_id]
    return stages


def _notify_needed(stage: ApprovalStage, people: list[User]) -> None:
    """The email a stage's approvers get when it starts, with their own link."""
    notify(topic="approval_needed", recipients=people,
           payload={"request_id": stage.request_id, "stage_id": stage.pk},
           dedupe_key=f"approval_needed:{stage.pk}")


def _take_over(stage: ApprovalStage) -> tuple[str, list[User]]:
    """A stage left with nobody to decide goes to its fallback approvers, as when no primary
    approver exists at its start; with none, it escalates. Returns (kind, who was added):
    nobody when no escalation approver exists either, and the stage times out."""
    request = stage.request
    fallback = _resolve(_setting_for(stage, request), request, ApproverKind.FALLBACK)
    if fallback:
        added = _add_approvers(stage, request, fallback, ApproverKind.FALLBACK)
        _notify_needed(stage, added)
        return ApproverKind.FALLBACK, added
    _escalate(request, stage)  # audits stage.escalated and emails the escalation approvers
    return ApproverKind.ESCALATION, [row.user for row in
                                     stage.stage_approvers.select_related("user")]


def stages_hand_on(person: User, *, actor: User | None) -> int:
    """The leaver's row comes off every pending stage they approve; a stage with other
    approvers left waits for them, any other is taken over (`_take_over`). Returns how many
    stages the person was taken off."""
    stages = _locked_stages(_pending_stages(stage_approvers__user=person).values("pk"))
    if not stages:
        return 0
    StageApprover.objects.filter(stage__in=stages, user=person).delete()
    left = dict(StageApprover.objects.filter(stage__in=stages).order_by()
                .values("stage_id").annotate(n=Count("id")).values_list("stage_id", "n"))
    entries = []
    for stage in stages:
        kind, added = (None, []) if left.get(stage.pk) else _take_over(stage)
        entries.append((stage.pk, None, {"approvers": [user.email for user in added]},
                        {"request": stage.request_id, "order": stage.order,
                         "removed": person.email, "takenOverBy": kind or "remainingApprovers"}))
    audit_record_many(actor=actor, action="stage.handedOn", object_type="approvalstage",
                      entries=entries)
    return len(stages)


def _kept_delegates(stage: ApprovalStage, removed: set[int]) -> set[int]:
    """The delegate rows that stood in for `removed` people and for nobody still there."""
    rows = set(stage.stage_approvers.filter(kind=ApproverKind.DELEGATE)
               .values_list("user_id", flat=True))
    theirs = set(ApprovalDelegation.objects.filter(approver_id__in=removed, delegate_id__in=rows)
                 .values_list("delegate_id", flat=True))
    staying = set(stage.stage_approvers.exclude(user_id__in=removed | theirs)
                  .values_list("user_id", flat=True))
    others = set(ApprovalDelegation.objects.filter(approver_id__in=staying, delegate_id__in=theirs)
                 .values_list("delegate_id", flat=True))
    return theirs - others


def _reroute(stage: ApprovalStage, person: User, old_manager: User) -> dict | None:
    """The new manager (at each level the stage names) in place of the old one on `stage`;
    None when no approver of the stage came from the old manager."""
    request = stage.request
    request.requestor = person  # with the manager just set
    sets = list(_setting_for(stage, request).approver_sets.filter(kind=ApproverKind.PRIMARY)
                .select_related("user"))
    by_manager = [s for s in sets if s.subject_type == SubjectSetType.REQUESTOR_MANAGER]
    if not by_manager:
        return None
    excluded = {request.requestor_id, request.target_id}
    new = {user.pk: user for s in by_manager for user in approvers_of_set(s, request)
           if user.pk not in excluded}
    keep = set(new) | {user.pk for s in sets if s not in by_manager
                       for user in approvers_of_set(s, request)}
    old = {manager.pk for s in by_manager
           if (manager := _manager_of(old_manager, s.manager_level - 1)) is not None}
    removed = set(stage.stage_approvers.filter(kind=ApproverKind.PRIMARY,
                                               user_id__in=old - keep)
                  .values_list("user_id", flat=True))
    if not removed:
        return None
    removed |= _kept_delegates(stage, removed)
    stage.stage_approvers.filter(user_id__in=removed).delete()
    added = _add_approvers(stage, request, list(new.values()), ApproverKind.PRIMARY)
    kind = ApproverKind.PRIMARY
    if added:
        _notify_needed(stage, added)
    elif not stage.stage_approvers.exists():
        kind, added = _take_over(stage)
    return {"fromUserIds": sorted(removed), "toUserIds": [user.pk for user in added],
            "to": [str(user) for user in added], "approverKind": kind}


def stages_reroute(person: User, *, old_manager: User | None, actor: User | None) -> int:
    """The mover: the pending stages of the person's requests that their old manager (or a
    manager above them, at the level a stage names) approves go to the new one, or to the
    fallback approvers when there is none (as at a stage's start). Returns how many moved."""
    if old_manager is None:
        return 0
    stages = _locked_stages(_pending_stages(request__requestor=person,
                                            stage_approvers__kind=ApproverKind.PRIMARY)
                            .values("pk"))
    moved = 0
    for stage in stages:
        change = _reroute(stage, person, old_manager)
        if change is None:
            continue
        audit_record(actor=actor, action=STAGE_REROUTED, obj=stage,
                     before={"approvers": change["fromUserIds"]},
                     after={"approvers": change["toUserIds"]},
                     details={"request": stage.request_id, "order": stage.order,
                              "person": person.pk, "personName": str(person), **change})
        moved += 1
    return moved


def reviews_hand_on(person: User, *, actor: User | None) -> int:
    """The decisions a leaver still owes in reviews under way go to each review's fallback
    reviewers where nobody else reviews them (as at the review's start), who are emailed.
    What they decided already stands; their own access is not reviewed by anyone new. Returns
    how many reviews were handed on."""
    now = clock.now()
    under_way = AccessReview.objects.filter(state=ReviewState.IN_PROGRESS, end_at__gt=now)
    owed = (DecisionReviewer.objects.filter(user=person, decision__review__in=under_way,
                                            decision__decision=ReviewDecisionValue.NOT_REVIEWED)
            .exclude(decision__principal=person))
    whole = ReviewReviewer.objects.filter(user=person, review__in=under_way)
    review_ids = sorted(set(owed.values_list("decision__review_id", flat=True))
                        | set(whole.values_list("review_id", flat=True)))
    handed = 0
    for review_id in review_ids:
        review = _lock_review(review_id, shared=True)
        if review is None or review.state != ReviewState.IN_PROGRESS or review.end_at <= now:
            continue
        decisions, _ = owed.filter(decision__review_id=review_id).delete()
        reviews, _ = whole.filter(review_id=review_id).delete()
        fallback = list(review_settings_from_graph(review.settings).fallback)
        added = _decision_reviewers_add(review, fallback, review.access_package.catalog_id,
                                        self_review=False, fallback=True)
        emails = _emails_queue(review) if added else 0
        audit_record(actor=actor, action="review.handedOn", obj=review,
                     details={"removed": person.email, "decisionsOwed": decisions,
                              "reviewedWholeReview": bool(reviews),
                              "fallbackDecisionReviewers": added, "emails": emails})
        handed += 1
    return handed
