"""Assignment requests: ask for access, extend it, remove it, cancel the ask.

Lock order everywhere: target user, then request, then stage, then assignment.
"""

from collections.abc import Mapping
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils.formats import date_format

from governance import clock
from governance.choices import (
    REQUEST_OPEN,
    AccountState,
    AllowedTargetScope,
    EndReason,
    RequestCause,
    RequestState,
    RequestType,
    StageState,
)
from governance.models import AccessPackage, Assignment, AssignmentPolicy, AssignmentRequest, User
from governance.selectors.packages import (
    active_assignment_for,
    open_request_for,
    request_options,
    separation_of_duties_conflict,
)
from governance.selectors.permissions import can_manage_assignments
from governance.services.approvals import stage_tell_approvers
from governance.services.errors import (
    Duplicate,
    InvalidInput,
    InvalidState,
    NotAllowed,
    NotFound,
    OutOfScope,
    SeparationOfDuties,
)
from governance.services.expiry import assignments_end
from governance.services.internal.validation import answers_validate, schedule_validate
from governance.services.organizations import organization_propose_for
from governance.services.request_lifecycle import (
    Assigned,
    Submitted,
    request_advance,
    request_create,
    request_move,
)

# Who removes access, by the reason the assignment ends for.
REMOVAL_CAUSES = {EndReason.REMOVED_BY_USER: RequestCause.REQUESTOR,
                  EndReason.REMOVED_BY_MANAGER: RequestCause.MANAGER,
                  EndReason.REMOVED_BY_ADMIN: RequestCause.ADMINISTRATOR}


def _lock_user(user: User) -> User:
    locked = User.objects.select_for_update().get(pk=user.pk)
    if locked.account_state == AccountState.DELETED:
        raise NotFound("This person's account was deleted.", code="userDeleted")
    return locked


def _package_for_request(access_package_id: int) -> AccessPackage:
    package = AccessPackage.objects.select_related("catalog").filter(pk=access_package_id).first()
    if package is None:
        raise NotFound("This access package does not exist.", code="packageNotFound")
    return package


def _policy_of(package: AccessPackage, policy_id: int | None) -> AssignmentPolicy | None:
    if policy_id is None:
        return None
    policy = package.policies.filter(pk=policy_id).first()
    if policy is None:
        raise NotFound("This policy does not exist for this access package.",
                       code="policyNotFound")
    return policy


def _refuse_duplicates(target: User, package: AccessPackage, *, for_add: bool) -> None:
    pending = open_request_for(target, package)
    if pending:
        raise Duplicate(
            f"A request for “{package}” is already pending (submitted "
            f"{date_format(pending.created_at, 'DATETIME_FORMAT')}).", code="duplicateRequest")
    if for_add and active_assignment_for(target, package):
        raise Duplicate(f"“{package}” is already assigned. Extend it instead of asking again.",
                        code="alreadyAssigned")


def _refuse_conflicts(target: User, package: AccessPackage) -> None:
    conflict = separation_of_duties_conflict(target, package)
    if conflict:
        raise SeparationOfDuties(conflict)


def _require_justification(policy: AssignmentPolicy, justification: str) -> str:
    justification = (justification or "").strip()
    if policy.is_requestor_justification_required and not justification:
        raise InvalidInput("A justification is required for this access package.",
                           field="justification", code="justificationRequired")
    return justification


def _create(*, request_type: str, package: AccessPackage, policy: AssignmentPolicy | None,
            requestor: User, target: User, cause: str, justification: str = "",
            schedule: tuple[datetime | None, datetime | None] = (None, None),
            answers=(), assignment: Assignment | None = None,
            done_status: str = "") -> AssignmentRequest:
    """A new request; with `done_status`, one carried out at once (never open)."""
    request = AssignmentRequest(
        request_type=request_type, state=RequestState.SUBMITTED, access_package=package,
        policy=policy, requestor=requestor, target=target, justification=justification,
        schedule_start_at=schedule[0], schedule_end_at=schedule[1], assignment=assignment,
        created_at=clock.now())
    if done_status:
        request.state, request.status = RequestState.DELIVERED, done_status
    recorded = {
        "requestType": request_type, "accessPackage": package.pk,
        "policy": policy.pk if policy else None, "target": target.pk,
        "justification": justification,
        "answers": {str(a.question_id): a.display_value for a in answers},
    }
    try:
        with transaction.atomic():
            request_create(request, cause=cause, actor=requestor, after=recorded)
    except IntegrityError:
        # The partial unique index is the last word if two submissions raced past the checks.
        raise Duplicate(f"A request for “{package}” is already pending.",
                        code="duplicateRequest") from None
    for answer in answers:
        answer.request = request
    request.answers.bulk_create(answers)
    return request


def request_submit(*, requestor: User, access_package_id: int, policy_id: int | None = None,
                   target: User | None = None, justification: str = "",
                   answers: Mapping | None = None, start_at: datetime | None = None,
                   end_at: datetime | None = None) -> AssignmentRequest:
    """Ask for a package for oneself (userAdd) or for a direct report (onBehalfAdd)."""
    with transaction.atomic():
        target = _lock_user(target or requestor)
        requestor = target if target.pk == requestor.pk else requestor
        package = _package_for_request(access_package_id)
        chosen = _policy_of(package, policy_id)
        options = request_options(requestor, package, target)
        if not options.allowed:
            raise OutOfScope(options.reason, code="outOfScope")
        if chosen is None and len(options.policies) > 1:
            names = ", ".join(f"“{policy}”" for policy in options.policies)
            raise InvalidInput(f"Choose one of the policies {names}.", field="policy",
                               code="policyChoiceRequired")
        policy = chosen or options.policies[0]
        if policy not in options.policies:
            raise OutOfScope(f"The policy “{policy}” does not let you request this package.",
                             code="outOfScope")
        _refuse_duplicates(target, package, for_add=True)
        _refuse_conflicts(target, package)
        justification = _require_justification(policy, justification)
        answer_rows = answers_validate(policy, answers, target.preferred_language or None)
        schedule = schedule_validate(policy, now=clock.now(), start_at=start_at, end_at=end_at)
        if (policy.allowed_target_scope == AllowedTargetScope.ALL_EXTERNAL_USERS
                and target.is_guest and target.connected_organization_id is None):
            organization_propose_for(user=target, actor=requestor)
        request_type = RequestType.USER_ADD if target == requestor else RequestType.ON_BEHALF_ADD
        request = _create(request_type=request_type, package=package, policy=policy,
                          requestor=requestor, target=target, cause=RequestCause.REQUESTOR,
                          justification=justification, schedule=schedule, answers=answer_rows)
        request_advance(Submitted(request, actor=requestor))
        return request


def request_admin_add(*, actor: User, access_package_id: int, policy_id: int, target: User,
                      justification: str = "", start_at: datetime | None = None,
                      end_at: datetime | None = None) -> AssignmentRequest:
    """Direct assignment (adminAdd): no approval, but separation of duties still holds."""
    with transaction.atomic():
        target = _lock_user(target)
        package = _package_for_request(access_package_id)
        if not can_manage_assignments(actor, package.catalog):
            raise NotAllowed("You may not assign access packages of this catalog.")
        policy = _policy_of(package, policy_id)
        if policy is None:
            raise NotFound("Choose a policy of this access package.", code="policyNotFound")
        _refuse_duplicates(target, package, for_add=True)
        _refuse_conflicts(target, package)
        if policy.allow_custom_schedule or not (start_at or end_at):
            schedule = schedule_validate(policy, now=clock.now(), start_at=start_at,
                                         end_at=end_at)
        else:
            raise InvalidInput("This policy does not let you choose when access starts or ends.",
                               field="start_at", code="scheduleNotAllowed")
        request = _create(request_type=RequestType.ADMIN_ADD, package=package, policy=policy,
                          requestor=actor, target=target, cause=RequestCause.ADMINISTRATOR,
                          justification=justification, schedule=schedule)
        request_advance(Assigned(request, actor=actor))
        return request


def _lock_active_assignment(assignment_id: int) -> Assignment:
    assignment = Assignment.objects.select_for_update(of=("self",)) \
        .select_related("access_package__catalog", "policy").filter(pk=assignment_id).first()
    if assignment is None:
        raise NotFound("This assignment does not exist.", code="assignmentNotFound")
    if not assignment.is_active:
        raise InvalidState("This access has already ended.", code="assignmentEnded")
    return assignment


def request_extend(*, requestor: User, assignment_id: int, justification: str = "",
                   answers: Mapping | None = None,
                   end_at: datetime | None = None) -> AssignmentRequest:
    """Extend one's own access (userUpdate), through approval when the policy asks for it."""
    with transaction.atomic():
        target = _lock_user(requestor)
        assignment = _lock_active_assignment(assignment_id)
        policy = assignment.policy
        if assignment.target_id != target.pk or policy is None or not policy.enable_self_update:
            raise NotAllowed("This access cannot be extended by you.", code="extendNotAllowed")
        package = assignment.access_package
        _refuse_duplicates(target, package, for_add=False)
        justification = _require_justification(policy, justification)
        answer_rows = answers_validate(policy, answers, target.preferred_language or None)
        schedule = schedule_validate(policy, now=clock.now(), end_at=end_at)
        request = _create(request_type=RequestType.USER_UPDATE, package=package, policy=policy,
                          requestor=target, target=target, cause=RequestCause.REQUESTOR,
                          justification=justification, schedule=schedule, answers=answer_rows,
                          assignment=assignment)
        request_advance(Submitted(request, actor=target))
        return request


def _removal_kind(actor: User, assignment: Assignment, *, as_admin: bool,
                  as_manager: bool) -> tuple[str, str]:
    """(requestType, end reason) of a removal by `actor`, or NotAllowed."""
    if as_admin:
        if not can_manage_assignments(actor, assignment.access_package.catalog):
            raise NotAllowed("You may not remove assignments of this catalog.")
        return RequestType.ADMIN_REMOVE, EndReason.REMOVED_BY_ADMIN
    if as_manager:
        if assignment.target.manager_id != actor.pk:
            raise NotAllowed("You can only remove the access of your direct reports.",
                             code="removeNotAllowed")
        return RequestType.ADMIN_REMOVE, EndReason.REMOVED_BY_MANAGER
    policy = assignment.policy
    if assignment.target_id != actor.pk or (policy and not policy.enable_self_remove):
        raise NotAllowed("This access cannot be removed by you.", code="removeNotAllowed")
    return RequestType.USER_REMOVE, EndReason.REMOVED_BY_USER


def request_remove(*, actor: User, assignment_id: int, justification: str = "",
                   as_admin: bool = False, as_manager: bool = False) -> AssignmentRequest:
    """End access now: the person's own choice (userRemove), their manager's, or an
    administrator's (adminRemove)."""
    with transaction.atomic():
        assignment = _lock_active_assignment(assignment_id)
        request_type, reason = _removal_kind(actor, assignment, as_admin=as_admin,
                                             as_manager=as_manager)
        request = _create(request_type=request_type, package=assignment.access_package,
                          policy=assignment.policy, requestor=actor, target=assignment.target,
                          cause=REMOVAL_CAUSES[reason], justification=justification,
                          assignment=assignment, done_status="Access removed")
        assignments_end(assignment_ids=[assignment.pk], reason=reason, actor=actor)
        return request


def request_cancel(*, actor: User, request_id: int) -> AssignmentRequest:
    """Withdraw a request that is still waiting for approval or for its start date."""
    with transaction.atomic():
        request = AssignmentRequest.objects.select_for_update().select_related(
            "access_package__catalog").filter(pk=request_id).first()
        if request is None:
            raise NotFound("This request does not exist.", code="requestNotFound")
        own = actor.pk in (request.requestor_id, request.target_id)
        if not own and not can_manage_assignments(actor, request.access_package.catalog):
            raise NotAllowed("Only the requestor can cancel this request.")
        cancellable = [RequestState.SUBMITTED, RequestState.PENDING_APPROVAL,
                       RequestState.SCHEDULED]
        if request.state not in cancellable:
            raise InvalidState(
                f"This request is {request.get_state_display().lower()} and can no longer "
                "be canceled.", code="requestNotCancelable")
        for stage in request.stages.filter(state=StageState.IN_PROGRESS):
            stage.state, stage.completed_at = StageState.SKIPPED, clock.now()
            stage.save(update_fields=["state", "completed_at"])
            stage_tell_approvers(stage, request, "approval_canceled")
        request_move(request, to=RequestState.CANCELED, actor=actor, status="Canceled",
                     cause=RequestCause.REQUESTOR if own else RequestCause.ADMINISTRATOR)
        return request


__all__ = ["REQUEST_OPEN", "request_admin_add", "request_cancel", "request_extend",
           "request_remove", "request_submit"]
