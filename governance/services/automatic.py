"""Automatic policies: everyone a policy's membership rule matches holds its package.

One piece of work serves every door: `_reconcile(policy, people)` brings the policy's
assignments in line with its rule for `people` (everyone, or one person), set-based, in the
caller's transaction, holding the policy's row lock:
- a matching person without the package gets it (a systemAdd request, carried out at once,
  and an assignment that then delivers like any other);
- a person of the policy's assignments who no longer matches has its removal scheduled at the
  end of the grace period ("ends on … unless they match again"); matching again cancels it;
- a removal whose time has come ends the assignment (reason ruleNotMatched), through
  assignments_end, which revokes in every target system.

It runs when a rule is saved (a RuleEvaluation job, with its progress), for one person when
their attributes change (`person_rules_evaluate`, queued by the people services), and in the
minute sweep (`automatic_policies_reconcile`), which repairs any drift. Each run locks the
policy it works on; the sweep skips a policy another run holds, so two sweeps at once do each
piece of work once.
"""

import logging
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache

from django.db import DatabaseError, connection, transaction
from django.db.models import Exists, OuterRef, Q

from governance import clock
from governance.choices import (
    ASSIGNMENT_ACTIVE,
    AccountState,
    AssignmentState,
    BulkJobState,
    DeliveryAction,
    DeliveryState,
    EndReason,
    GroupMembershipRole,
    RequestState,
    RequestType,
    UserType,
)
from governance.models import (
    AccessPackage,
    Assignment,
    AssignmentPolicy,
    AssignmentRequest,
    GroupMembership,
    ResourceRoleScope,
    RoleDelivery,
    RuleEvaluation,
    User,
)
from governance.rules import RuleError, as_condition, matches, parse
from governance.selectors.packages import incompatible_packages
from governance.services.audit import audit_insert_sql, audit_record, audit_record_many
from governance.services.delivery import assignments_refresh
from governance.services.errors import InvalidInput
from governance.services.expiry import assignments_end
from governance.services.guests import guest_on_assignment
from governance.services.internal.bulk import ids_in
from governance.services.internal.dispatch import after_commit, deliveries_after_commit
from governance.services.internal.patterns import pattern_check
from governance.services.internal.validation import policy_latest_end

logger = logging.getLogger(__name__)

ASSIGNED_STATUS = "Assigned by the policy's membership rule"
DELIVERY_BATCH = 500   # assignment ids per delivery task message
REMOVAL_BATCH = 1000   # assignments ended per assignments_end call
# The person's fields the rules read: a change of any of them is evaluated for that person.
RULE_FIELDS = frozenset({"department", "job_title", "employee_id", "employee_type",
                         "company_name", "office_location", "email", "user_type", "is_active",
                         "manager", "manager_id", "active"})


# The rule


def rule_check(rule: str):
    """The tree of `rule`, or InvalidInput on the field `membership_rule` naming the column
    where it fails; a -match pattern must also pass the pattern rules (bounded matching)."""
    try:
        tree = parse(rule)
    except RuleError as error:
        raise InvalidInput(error.message, field="membership_rule", code="invalidRule") from None
    for comparison in _comparisons(tree):
        if comparison.operator in ("match", "notMatch"):
            try:
                pattern_check(comparison.value)
            except InvalidInput as error:
                raise InvalidInput(f"Column {comparison.column}: {error}",
                                   field="membership_rule", code=error.code) from None
    return tree


@lru_cache(maxsize=4096)
def _tree(rule: str):
    """The tree of a saved rule, parsed once per process (trees are frozen): a person's
    change reads every automatic policy's rule."""
    return parse(rule)


def _comparisons(node):
    if hasattr(node, "operator"):
        yield node
    elif hasattr(node, "term"):
        yield from _comparisons(node.term)
    else:
        for term in node.terms:
            yield from _comparisons(term)


def eligible_condition() -> Q:
    """Who an automatic policy can assign: active people of the directory (not API clients,
    not deleted or blocked accounts)."""
    return Q(is_active=True, account_state=AccountState.ACTIVE) & ~Q(user_type=UserType.SERVICE)


def is_eligible(person: User) -> bool:
    return (person.is_active and person.account_state == AccountState.ACTIVE
            and person.user_type != UserType.SERVICE)


def _incompatible_condition(package: AccessPackage) -> Q:
    """People whom separation of duties keeps from `package`: the condition form of the
    request's check, governance.selectors.packages.separation_of_duties_conflict."""
    holds = Exists(Assignment.objects.filter(target_id=OuterRef("pk"),
                                             state__in=ASSIGNMENT_ACTIVE,
                                             access_package__in=incompatible_packages(package)))
    in_group = Exists(GroupMembership.objects.filter(
        user_id=OuterRef("pk"), role=GroupMembershipRole.MEMBER,
        group__in=package.incompatible_groups.all()))
    return Q(holds) | Q(in_group)


def matching_people(policy: AssignmentPolicy, tree=None):
    """The people `policy`'s rule (or `tree`) matches and who may hold its package."""
    tree = tree if tree is not None else _tree(policy.membership_rule)
    return User.objects.filter(as_condition(tree) & eligible_condition()).exclude(
        _incompatible_condition(policy.access_package))


# Reconciling


@dataclass
class Outcome:
    matched: int = 0
    added: int = 0
    removal_scheduled: int = 0
    removal_canceled: int = 0
    removed: int = 0

    def add(self, other: "Outcome") -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


def _sql(queryset) -> tuple[str, tuple]:
    return queryset.query.get_compiler(using=queryset.db).as_sql()


def _insert_set_based(policy: AssignmentPolicy, people, now, end) -> list[tuple[int, int]]:
    """PostgreSQL: the assignments of `people`, their systemAdd requests, their deliveries and
    their audit events in one INSERT … SELECT; (assignment id, person id) of those inserted.

    Who already holds the package is left to ON CONFLICT (the unique index of active
    assignments: one probe a person), not to a NOT EXISTS on the table this statement
    inserts into: with that table empty or its statistics stale, PostgreSQL plans it as a
    nested loop that rescans the rows being inserted for every person (quadratic; 18 to 44 s
    instead of about 5 for 50,000 in bench/auto_assign.py --empty). No ORDER BY in the
    people subquery either (the model's, by email, walked the email index)."""
    package_id = policy.access_package_id
    people_sql, people_params = _sql(people.order_by().values("pk"))
    tables = {model.__name__: connection.ops.quote_name(model._meta.db_table) for model in (
        Assignment, AssignmentRequest, RoleDelivery, ResourceRoleScope)}
    after, details = _created(policy, now, end)
    audit_sql, audit_params = audit_insert_sql(
        source="new", id_column="id", action="assignment.created", object_type="assignment",
        after=after, after_columns={"target": "target_id"}, details=details)
    # Table names come from the models; every value is a parameter.
    query = f"""
        WITH new AS (
            INSERT INTO {tables['Assignment']} (access_package_id, policy_id, target_id,
                state, status, start_at, expires_at, created_at, end_reason)
            SELECT %s, %s, person.id, %s, %s, %s, %s, %s, '' FROM ({people_sql}) AS person (id)
            ON CONFLICT DO NOTHING
            RETURNING id, target_id
        ), requests AS (
            INSERT INTO {tables['AssignmentRequest']} (request_type, state, status,
                access_package_id, policy_id, requestor_id, target_id, assignment_id,
                justification, created_at, completed_at)
            SELECT %s, %s, %s, %s, %s, new.target_id, new.target_id, new.id, '', %s, %s
            FROM new
        ), deliveries AS (
            INSERT INTO {tables['RoleDelivery']} (assignment_id, role_id, action, state,
                attempts, last_error, note, next_attempt_at)
            SELECT new.id, scope.role_id, %s, %s, 0, '', '', %s
            FROM new CROSS JOIN {tables['ResourceRoleScope']} AS scope
            WHERE scope.access_package_id = %s
        ), audit AS ({audit_sql})
        SELECT id, target_id FROM new ORDER BY id
    """  # nosec B608  # table names from the models, values as parameters
    # The people subquery's parameters come after the INSERT's own values.
    params = [package_id, policy.pk, AssignmentState.DELIVERING, "Delivering", now, end, now]
    params += list(people_params)
    params += [RequestType.SYSTEM_ADD, RequestState.DELIVERED, ASSIGNED_STATUS, package_id,
               policy.pk, now, now, DeliveryAction.GRANT, DeliveryState.PENDING, now,
               package_id, *audit_params]
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        return cursor.fetchall()


def _insert_row_by_row(policy: AssignmentPolicy, people, now, end) -> list[tuple[int, int]]:
    """The same rows through the ORM, for the demo's SQLite (no INSERT … RETURNING in a WITH).
    """
    assignments = Assignment.objects.bulk_create([
        Assignment(access_package_id=policy.access_package_id, policy=policy, target_id=pk,
                   state=AssignmentState.DELIVERING, status="Delivering", start_at=now,
                   expires_at=end, created_at=now)
        for pk in people.values_list("pk", flat=True)])
    AssignmentRequest.objects.bulk_create([
        AssignmentRequest(request_type=RequestType.SYSTEM_ADD, state=RequestState.DELIVERED,
                          status=ASSIGNED_STATUS, access_package_id=policy.access_package_id,
                          policy=policy, requestor_id=a.target_id, target_id=a.target_id,
                          assignment=a, created_at=now, completed_at=now)
        for a in assignments])
    roles = list(ResourceRoleScope.objects.filter(access_package_id=policy.access_package_id)
                 .values_list("role_id", flat=True))
    RoleDelivery.objects.bulk_create([
        RoleDelivery(assignment=a, role_id=role_id, next_attempt_at=now)
        for a in assignments for role_id in roles])
    after, details = _created(policy, now, end)
    audit_record_many(actor=None, action="assignment.created", object_type="assignment",
                      entries=[(a.pk, None, {**after, "target": a.target_id}, details)
                               for a in assignments])
    return [(a.pk, a.target_id) for a in assignments]


def _created(policy: AssignmentPolicy, now, end) -> tuple[dict, dict]:
    """An assignment.created event's `after` (but its target) and `details`."""
    return ({"accessPackage": policy.access_package_id, "startAt": now.isoformat(),
             "expiresAt": end and end.isoformat()},
            {"reason": "automaticPolicy", "policy": policy.pk})


def _assign(policy: AssignmentPolicy, people, now) -> list[int]:
    """Assign the package to those of `people` (a User queryset) who do not hold it, with
    their systemAdd requests (carried out at once) and deliveries; audited. Returns the new
    assignments' ids."""
    package_id = policy.access_package_id
    held = Assignment.objects.filter(target_id=OuterRef("pk"), access_package_id=package_id,
                                     state__in=ASSIGNMENT_ACTIVE)
    end = policy_latest_end(policy, now)
    if connection.vendor == "postgresql":
        rows = _insert_set_based(policy, people, now, end)
    else:
        rows = _insert_row_by_row(policy, people.exclude(Exists(held)), now, end)
    if not rows:
        return []
    ids = [row[0] for row in rows]
    guests = User.objects.filter(pk__in=ids_in([row[1] for row in rows]),
                                 user_type=UserType.GUEST).order_by().values_list("pk", flat=True)
    for guest_id in guests:
        guest_on_assignment(user_id=guest_id, actor=None)
    if not ResourceRoleScope.objects.filter(access_package_id=package_id).exists():
        assignments_refresh(ids)  # nothing to deliver: delivered at once
    for start in range(0, len(ids), DELIVERY_BATCH):
        deliveries_after_commit(ids[start:start + DELIVERY_BATCH])
    return ids


def _set_removal(policy: AssignmentPolicy, assignments, due, *, action: str,
                 reason: str) -> int:
    """Set (or, `due` None, clear) the scheduled removal of `assignments`, audited."""
    ids = list(assignments.values_list("pk", flat=True))
    if not ids:
        return 0
    Assignment.objects.filter(pk__in=ids_in(ids)).update(rule_removal_at=due)
    audit_record_many(actor=None, action=action, object_type="assignment", entries=[
        (assignment_id, None, {"ruleRemovalAt": due and due.isoformat()},
         {"reason": reason, "policy": policy.pk}) for assignment_id in ids])
    return len(ids)


def _schedule_removals(policy: AssignmentPolicy, assignments, now) -> int:
    grace = policy.grace_period_before_access_removal or timedelta(0)
    return _set_removal(policy, assignments.filter(rule_removal_at__isnull=True), now + grace,
                        action="assignment.removalScheduled", reason="ruleNotMatched")


def _cancel_removals(policy: AssignmentPolicy, assignments) -> int:
    return _set_removal(policy, assignments.filter(rule_removal_at__isnull=False), None,
                        action="assignment.removalCanceled", reason="ruleMatchedAgain")


def _end_due(assignments, now) -> int:
    ids = list(assignments.filter(rule_removal_at__lte=now).order_by("pk")
               .values_list("pk", flat=True))
    ended = 0
    for start in range(0, len(ids), REMOVAL_BATCH):
        ended += len(assignments_end(assignment_ids=ids[start:start + REMOVAL_BATCH],
                                     reason=EndReason.RULE_NOT_MATCHED))
    return ended


def _reconcile(policy: AssignmentPolicy, people: Q | None = None) -> Outcome:
    """Bring `policy`'s assignments in line with its rule, for `people` (a condition on User)
    or everyone. In the caller's transaction, with the policy locked."""
    now, outcome = clock.now(), Outcome()
    matched = matching_people(policy)
    scope = Q() if people is None else people
    matched = matched.filter(scope)
    mine = Assignment.objects.filter(policy=policy, state__in=ASSIGNMENT_ACTIVE)
    if people is not None:
        mine = mine.filter(target__in=User.objects.filter(scope))
    outcome.matched = matched.count()
    if policy.request_access_for_allowed_targets:
            outcome.added = len(_assign(policy, matched, now))
    in_rule = Exists(matched.filter(pk=OuterRef("target_id")))
    outcome.removal_canceled = _cancel_removals(policy, mine.filter(in_rule))
    if policy.remove_access_when_target_leaves:
        outcome.removal_scheduled = _schedule_removals(policy, mine.exclude(in_rule), now)
    outcome.removed = _end_due(mine.exclude(in_rule), now)
    return outcome


def _locked(policy_id: int, *, skip_locked: bool = False) -> AssignmentPolicy | None:
    return AssignmentPolicy.objects.select_for_update(of=("self",), skip_locked=skip_locked) \
        .select_related("access_package").filter(pk=policy_id, is_automatic=True).first()


# The job a rule change starts


def rule_evaluation_queue(policy: AssignmentPolicy, *, actor: User | None) -> RuleEvaluation:
    """Queue a run of `policy`'s rule over everyone; in the caller's transaction (the policy
    service's, on saving an automatic policy)."""
    evaluation = RuleEvaluation.objects.create(policy=policy, actor=actor,
                                               membership_rule=policy.membership_rule,
                                               created_at=clock.now())
    after_commit("run_rule_evaluation", evaluation.pk)
    return evaluation


def _progress(evaluation_id: int, **fields) -> None:
    RuleEvaluation.objects.filter(pk=evaluation_id).update(**fields)


def rule_evaluation_run(*, evaluation_id: int) -> RuleEvaluation | None:
    """Run a queued evaluation: claim it (compare-and-set, so a second worker leaves it), then
    reconcile its policy in one transaction. Its counts say what was done."""
    claimed = RuleEvaluation.objects.filter(pk=evaluation_id, state=BulkJobState.QUEUED) \
        .update(state=BulkJobState.RUNNING, started_at=clock.now())
    if not claimed:
        return None
    try:
        with transaction.atomic():
            evaluation = RuleEvaluation.objects.get(pk=evaluation_id)
            policy = _locked(evaluation.policy_id)
            outcome = Outcome() if policy is None else _reconcile(policy)
            fields = {"state": BulkJobState.DONE, "finished_at": clock.now(),
                      **outcome.__dict__}
            RuleEvaluation.objects.filter(pk=evaluation_id).update(**fields)
            if policy is not None:
                audit_record(actor=evaluation.actor, action="policy.ruleApplied", obj=policy,
                             details={"evaluation": evaluation_id, **outcome.__dict__})
    except Exception as error:  # noqa: BLE001 - recorded on the job; the sweep repairs drift
        logger.exception("Rule evaluation %s failed", evaluation_id)
        _progress(evaluation_id, state=BulkJobState.FAILED, finished_at=clock.now(),
                  error=f"The run stopped and changed nothing: {error}"[:2000])
    return RuleEvaluation.objects.get(pk=evaluation_id)


def rule_evaluations_resume(*, stale_after: timedelta = timedelta(minutes=10)) -> int:
    """Queue again the evaluations whose message was lost; a run that died with its worker
    rolled back, so it is queued afresh."""
    now = clock.now()
    RuleEvaluation.objects.filter(state=BulkJobState.RUNNING,
                                  started_at__lt=now - stale_after).update(
        state=BulkJobState.QUEUED, started_at=None)
    ids = list(RuleEvaluation.objects.filter(state=BulkJobState.QUEUED,
                                             created_at__lt=now - timedelta(minutes=1))
               .values_list("pk", flat=True))
    for evaluation_id in ids:
        rule_evaluation_run(evaluation_id=evaluation_id)
    return len(ids)


# One person, and the sweep


def person_rules_evaluate(*, user_id: int) -> Outcome:
    """Evaluate one person against every automatic policy, after their attributes changed.

    The person's verdict is worked out in Python (one query for the policies, whatever their
    number); only the policies whose verdict may change anything are locked and reconciled.
    """
    total = Outcome()
    person = User.objects.filter(pk=user_id).first()
    if person is None:
        return total
    eligible = is_eligible(person)
    held = dict(Assignment.objects.filter(target_id=user_id, state__in=ASSIGNMENT_ACTIVE)
                .values_list("access_package_id", "policy_id"))
    for policy in AssignmentPolicy.objects.filter(is_automatic=True).order_by("pk"):
        try:
            match = eligible and matches(_tree(policy.membership_rule), person)
        except (RuleError, TimeoutError):
            continue
        holds_under_policy = held.get(policy.access_package_id) == policy.pk
        wanted = match and policy.request_access_for_allowed_targets \
            and policy.access_package_id not in held
        if not (wanted or holds_under_policy):
            continue
        with transaction.atomic():
            locked = _locked(policy.pk)
            if locked is not None:
                total.add(_reconcile(locked, Q(pk=user_id)))
    return total


def people_rules_evaluate_after_commit(user_ids) -> None:
    """Queue `person_rules_evaluate` for each person once the caller's change commits."""
    for user_id in user_ids:
        after_commit("evaluate_person_rules", user_id)


def automatic_policies_reconcile() -> Outcome:
    """The sweep: every automatic policy against everyone, each in its own transaction. A
    policy another run holds is skipped (it is being done); so is a rule that no longer
    reads, which is logged."""
    total = Outcome()
    for policy_id in AssignmentPolicy.objects.filter(is_automatic=True).order_by("pk") \
            .values_list("pk", flat=True):
        try:
            with transaction.atomic():
                policy = _locked(policy_id, skip_locked=True)
                if policy is not None:
                    total.add(_reconcile(policy))
        except RuleError:
            logger.warning("Automatic policy %s: its rule does not read; skipped.", policy_id)
        except DatabaseError:
            # A deadlock or timeout on one policy rolled back its work only; the next sweep
            # tries it again, and the policies after it go ahead.
            logger.exception("Automatic policy %s: reconciling it failed; skipped.", policy_id)
    return total


__all__ = ["RULE_FIELDS", "Outcome", "automatic_policies_reconcile", "eligible_condition",
           "is_eligible", "matching_people", "people_rules_evaluate_after_commit",
           "person_rules_evaluate", "rule_check", "rule_evaluation_queue",
           "rule_evaluation_run", "rule_evaluations_resume"]
