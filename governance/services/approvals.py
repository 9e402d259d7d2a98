"""Approval stages: start, decide, escalate, time out. One decision per stage; first one wins."""

from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils.formats import date_format

from governance import clock
from governance.choices import (
    ApproverKind,
    Decision,
    GroupMembershipRole,
    RequestState,
    StageState,
    SubjectSetType,
)
from governance.models import (
    ApprovalDecision,
    ApprovalDelegation,
    ApprovalStage,
    ApprovalStageSetting,
    ApproverSet,
    AssignmentRequest,
    StageApprover,
    User,
)
from governance.services.audit import audit_record
from governance.services.errors import InvalidInput, InvalidState, NotAllowed, NotFound
from governance.services.outbox import notify
from governance.services.request_lifecycle import (
    StageDecided,
    StageTimedOut,
    Step,
    performs,
    request_advance,
)

DEFAULT_DEADLINE_DAYS = 14


def _manager_of(user: User | None, level: int) -> User | None:
    for _ in range(level):
        user = user.manager if user else None
    return user


def approvers_of_set(subject_set: ApproverSet, request: AssignmentRequest) -> list[User]:
    """The people a subject set names for this request, active ones only."""
    organization = request.target.connected_organization
    match subject_set.subject_type:
        case SubjectSetType.SINGLE_USER:
            people = [subject_set.user]
        case SubjectSetType.GROUP_MEMBERS:
            people = list(User.objects.filter(group_memberships__group=subject_set.group_id,
                                              group_memberships__role=GroupMembershipRole.MEMBER))
        case SubjectSetType.REQUESTOR_MANAGER:
            people = [_manager_of(request.requestor, subject_set.manager_level)]
        case SubjectSetType.INTERNAL_SPONSORS:
            people = list(organization.internal_sponsors.all()) if organization else []
        case SubjectSetType.EXTERNAL_SPONSORS:
            people = list(organization.external_sponsors.all()) if organization else []
        case SubjectSetType.TARGET_USER_SPONSORS:
            people = list(request.target.sponsors.all())
        case _:
            people = []
    return [person for person in people if person is not None and person.is_active]


def _resolve(setting: ApprovalStageSetting | None, request: AssignmentRequest,
             kind: str) -> list[User]:
    if setting is None:
        return []
    # Nobody approves their own request, so requestor and target never count as approvers.
    excluded = {request.requestor_id, request.target_id}
    people = {}
    for subject_set in setting.approver_sets.filter(kind=kind).select_related("user"):
        for person in approvers_of_set(subject_set, request):
            if person.pk not in excluded:
                people[person.pk] = person
    return list(people.values())


def _setting_for(stage: ApprovalStage, request: AssignmentRequest) -> ApprovalStageSetting | None:
    return ApprovalStageSetting.objects.filter(policy_id=request.policy_id,
                                               order=stage.order).first()


def reminder_times(started_at: datetime, due_at: datetime) -> list[datetime]:
    """Halfway to the deadline and one day before it; each only once and after the start."""
    times = {started_at + (due_at - started_at) / 2, due_at - timedelta(days=1)}
    return sorted(moment for moment in times if started_at < moment < due_at)


def _next_reminder(stage: ApprovalStage, after: datetime) -> datetime | None:
    return next((moment for moment in reminder_times(stage.started_at, stage.due_at)
                 if moment > after), None)


def _with_delegates(people: list[User], request: AssignmentRequest,
                    known: set[int]) -> list[tuple[User, str | None]]:
    """The delegates of approvers who are out of office now, who are not there already."""
    now = clock.now()
    excluded = known | {request.requestor_id, request.target_id}
    delegations = (ApprovalDelegation.objects
                   .filter(approver__in=people, starts_at__lte=now, ends_at__gt=now,
                           delegate__is_active=True)
                   .select_related("delegate").order_by("starts_at"))
    delegates = {}
    for delegation in delegations:
        if delegation.delegate_id not in excluded:
            delegates[delegation.delegate_id] = delegation.delegate
    return list(delegates.values())


def _add_approvers(stage: ApprovalStage, request: AssignmentRequest, people: list[User],
                   kind: str) -> list[User]:
    """Record `people` (and the delegates of those out of office) as approvers of the stage;
    returns everyone added, each of whom gets their own email and link."""
    known = set(stage.stage_approvers.values_list("user_id", flat=True))
    people = [person for person in people if person.pk not in known]
    delegates = _with_delegates(people, request, known | {person.pk for person in people})
    StageApprover.objects.bulk_create(
        [StageApprover(stage=stage, user=person, kind=kind) for person in people]
        + [StageApprover(stage=stage, user=person, kind=ApproverKind.DELEGATE)
           for person in delegates])
    return people + delegates


@performs(Step.STAGE)
def _stage_start(stage: ApprovalStage, request: AssignmentRequest) -> None:
    now = clock.now()
    setting = _setting_for(stage, request)
    approvers = _resolve(setting, request, ApproverKind.PRIMARY)
    kind = ApproverKind.PRIMARY
    if not approvers:
        # The manager or sponsor does not exist (or is the requestor): fallback approvers decide.
        approvers, kind = _resolve(setting, request, ApproverKind.FALLBACK), ApproverKind.FALLBACK
    deadline_days = setting.duration_before_automatic_denial_days if setting \
        else DEFAULT_DEADLINE_DAYS
    stage.state, stage.started_at = StageState.IN_PROGRESS, now
    stage.due_at = now + timedelta(days=deadline_days)
    stage.next_reminder_at = _next_reminder(stage, now)
    if setting and setting.is_escalation_enabled and setting.duration_before_escalation_days:
        stage.escalation_due_at = now + timedelta(days=setting.duration_before_escalation_days)
    stage.save(update_fields=["state", "started_at", "due_at", "escalation_due_at",
                              "next_reminder_at"])
    added = _add_approvers(stage, request, approvers, kind)
    stage_count = request.stages.count()
    request.status = f"Pending approval, stage {stage.order} of {stage_count}"
    request.save(update_fields=["status"])
    audit_record(actor=None, action="stage.started", obj=stage, after={
        "order": stage.order, "approvers": [person.email for person in approvers],
        "delegates": [person.email for person in added[len(approvers):]],
        "approverKind": kind, "dueAt": stage.due_at.isoformat()})
    notify(topic="approval_needed", recipients=added,
           payload={"request_id": request.pk, "stage_id": stage.pk},
           dedupe_key=f"approval_needed:{stage.pk}")


def _approvers_of(stage: ApprovalStage) -> list[User]:
    """Everyone who may decide the stage now: primary, fallback, escalation, delegates."""
    return [row.user for row in stage.stage_approvers.select_related("user")]


def stage_tell_approvers(stage: ApprovalStage, request: AssignmentRequest, topic: str, *,
                    excluding: User | None = None) -> None:
    """Let the stage's other approvers know it no longer waits for them."""
    approvers = [person for person in _approvers_of(stage)
                 if excluding is None or person.pk != excluding.pk]
    notify(topic=topic, recipients=approvers,
           payload={"request_id": request.pk, "stage_id": stage.pk},
           dedupe_key=f"{topic}:{stage.pk}")


@performs(Step.APPROVAL)
def approval_start(request: AssignmentRequest) -> None:
    """Create one stage row per stage of the policy and start the first, for a request the
    lifecycle has just made pending approval. Inside a transaction."""
    settings = list(request.policy.stages.order_by("order"))
    stages = ApprovalStage.objects.bulk_create([
        ApprovalStage(request=request, order=setting.order,
                      is_approver_justification_required=setting.is_approver_justification_required)
        for setting in settings
    ])
    _stage_start(stages[0], request)


def stage_outcome_message(stage: ApprovalStage, request: AssignmentRequest) -> str:
    """Why a stage no longer waits for a decision, in a sentence for its approvers."""
    if request.state == RequestState.CANCELED:
        # The status says why when it was not the requestor (the leaver's cancellation).
        if request.status and request.status != "Canceled":
            return f"{request.status}."
        return "The requestor canceled this request."
    if stage.state == StageState.TIMED_OUT:
        return "This request expired before anyone decided on it."
    decision = ApprovalDecision.objects.filter(stage=stage).select_related("approver").first()
    if decision:
        verb = "approved" if decision.result == Decision.APPROVE else "denied"
        return (f"This stage was already {verb} by {decision.approver} on "
                f"{date_format(decision.decided_at, 'DATETIME_FORMAT')}.")
    return "This stage is not waiting for a decision."


def stage_decide(*, stage_id: int, approver: User, decision: str,
                 justification: str = "") -> ApprovalStage:
    """Approve or deny one stage. Deny ends the request; after the last approval the request
    goes on (governance.services.request_lifecycle)."""
    if decision not in Decision.values:
        raise InvalidInput("The decision must be Approve or Deny.", field="decision")
    with transaction.atomic():
        request_id = ApprovalStage.objects.filter(pk=stage_id).values_list("request_id",
                                                                           flat=True).first()
        if request_id is None:
            raise NotFound("This approval does not exist.", code="stageNotFound")
        request = AssignmentRequest.objects.select_for_update(of=("self",)).select_related(
            "policy", "access_package", "requestor", "target").get(pk=request_id)
        stage = ApprovalStage.objects.select_for_update().get(pk=stage_id)
        if approver.pk in (request.requestor_id, request.target_id):
            raise NotAllowed("You cannot decide on your own request.", code="selfApproval")
        if not stage.stage_approvers.filter(user=approver).exists():
            raise NotAllowed("You are not an approver of this stage.", code="notApprover")
        if request.state != RequestState.PENDING_APPROVAL or stage.state != StageState.IN_PROGRESS:
            raise InvalidState(stage_outcome_message(stage, request), code="alreadyDecided")
        justification = (justification or "").strip()
        if stage.is_approver_justification_required and not justification:
            raise InvalidInput("A justification is required to decide on this stage.",
                               field="justification", code="justificationRequired")
        try:
            with transaction.atomic():
                ApprovalDecision.objects.create(stage=stage, approver=approver, result=decision,
                                                justification=justification,
                                                decided_at=clock.now())
        except IntegrityError:
            raise InvalidState("This stage was already decided.", code="alreadyDecided") from None
        approved = decision == Decision.APPROVE
        stage.state = StageState.APPROVED if approved else StageState.DENIED
        stage.completed_at = clock.now()
        stage.save(update_fields=["state", "completed_at"])
        audit_record(actor=approver, action=f"stage.{stage.state}", obj=stage,
                     before={"state": StageState.IN_PROGRESS},
                     after={"state": stage.state, "justification": justification},
                     details={"request": request.pk, "order": stage.order})
        stage_tell_approvers(stage, request, "approval_decided", excluding=approver)
        request_advance(StageDecided(request, stage, approver, approved=approved,
                                     justification=justification))
        return stage


def _time_out(request: AssignmentRequest, stage: ApprovalStage) -> None:
    stage.state, stage.completed_at = StageState.TIMED_OUT, clock.now()
    stage.save(update_fields=["state", "completed_at"])
    stage_tell_approvers(stage, request, "approval_expired")
    request_advance(StageTimedOut(request, stage))


def _escalate(request: AssignmentRequest, stage: ApprovalStage) -> None:
    # The first approvers keep their rows (and their links) until the stage is decided.
    alternates = _resolve(_setting_for(stage, request), request, ApproverKind.ESCALATION)
    added = _add_approvers(stage, request, alternates, ApproverKind.ESCALATION)
    stage.escalated_at = clock.now()
    stage.save(update_fields=["escalated_at"])
    audit_record(actor=None, action="stage.escalated", obj=stage,
                 after={"escalationApprovers": [person.email for person in added]},
                 details={"request": request.pk, "order": stage.order})
    notify(topic="approval_escalated", recipients=added,
           payload={"request_id": request.pk, "stage_id": stage.pk},
           dedupe_key=f"approval_escalated:{stage.pk}")


def _remind(request: AssignmentRequest, stage: ApprovalStage) -> None:
    """Remind every approver of the stage; nobody has acted, or it would not be waiting."""
    moment = stage.next_reminder_at
    approvers = _approvers_of(stage)
    notify(topic="approval_reminder", recipients=approvers,
           payload={"request_id": request.pk, "stage_id": stage.pk},
           dedupe_key=f"approval_reminder:{stage.pk}:{moment.isoformat()}")
    stage.next_reminder_at = _next_reminder(stage, max(moment, clock.now()))
    stage.save(update_fields=["next_reminder_at"])
    audit_record(actor=None, action="stage.reminded", obj=stage,
                 after={"approvers": [person.email for person in approvers]},
                 details={"request": request.pk, "order": stage.order})


def _sweep(stage_condition: dict, handle, batch_size: int) -> int:
    """Claim pending requests whose current stage meets `stage_condition`; handle each once."""
    request_condition = {f"stages__{key}": value for key, value in stage_condition.items()}
    done = 0
    while True:
        with transaction.atomic():
            claimed = list(
                AssignmentRequest.objects.filter(state=RequestState.PENDING_APPROVAL,
                                                 **request_condition)
                .select_for_update(skip_locked=True, of=("self",))
                .select_related("policy", "requestor", "target").order_by("id")[:batch_size])
            for request in claimed:
                # After a concurrent commit PostgreSQL re-checks only the locked request row,
                # not the joined stage: a decision may have just moved the request on. So the
                # stage is read again under the lock and must still qualify.
                stage = request.stages.select_for_update().filter(**stage_condition).first()
                if stage is not None:
                    handle(request, stage)
                    done += 1
        if len(claimed) < batch_size:
            return done


def stages_time_out_due(*, batch_size: int = 200) -> int:
    """Deny (as expired) every request whose current stage passed its deadline."""
    now = clock.now()
    return _sweep({"state": StageState.IN_PROGRESS, "due_at__lte": now}, _time_out, batch_size)


def stages_remind_due(*, batch_size: int = 200) -> int:
    """Remind the approvers of stages halfway to their deadline, and one day before it."""
    now = clock.now()
    return _sweep({"state": StageState.IN_PROGRESS, "next_reminder_at__lte": now,
                   "due_at__gt": now}, _remind, batch_size)


def stages_escalate_due(*, batch_size: int = 200) -> int:
    """Forward stages whose escalation time has come to their escalation approvers."""
    now = clock.now()
    return _sweep({"state": StageState.IN_PROGRESS, "escalation_due_at__lte": now,
                   "escalated_at__isnull": True, "due_at__gt": now}, _escalate, batch_size)
