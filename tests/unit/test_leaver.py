"""The leaver (governance.services.people: person_deactivate, person_update with active
false): sign-in and tokens end, every assignment is removed with its roles revoked in each
target system after the commit, open requests are canceled, the approvals and reviews the
person owes are handed on, and catalogs left without an active owner are shown to the admin."""

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from governance import connectors
from governance.choices import (
    ApproverKind,
    AssignmentState,
    DeliveryAction,
    DeliveryState,
    EndReason,
    GlobalRole,
    OriginSystem,
    RequestCause,
    RequestState,
    ReviewDecisionValue,
    ReviewerType,
    StageState,
    SystemKind,
)
from governance.connectors import ChangeResult, Connector
from governance.models import (
    Assignment,
    AuditEvent,
    CatalogRoleAssignment,
    DecisionReviewer,
    GlobalRoleAssignment,
    GroupMembership,
    OutboxMessage,
    PersonalToken,
    Resource,
    ResourceRole,
    ResourceRoleScope,
    RoleDelivery,
    StageApprover,
    TargetSystem,
    User,
)
from governance.models.review_settings import Reviewer
from governance.notifications import render_email
from governance.selectors.dashboard import catalogs_without_owner
from governance.services.api_tokens import personal_token_create, token_authenticate
from governance.services.approvals import stage_outcome_message
from governance.services.delivery import deliveries_process
from governance.services.errors import InvalidState, NotAllowed
from governance.services.people import person_deactivate, person_reactivate, person_update
from governance.services.requests import request_admin_add, request_submit
from tests.factories import (
    GroupFactory,
    PackageFactory,
    PolicyFactory,
    UserFactory,
    group_role,
    member_package,
    snapshot,
)
from tests.review_helpers import holders, review_by_hand, reviews_on


class RecordingConnector(Connector):
    """Stands in for the SCIM application and the Entra tenant: records each change."""

    calls: list[tuple] = []

    def apply(self, changes):
        for change in changes:
            self.calls.append((self.system.kind, change.action, change.user_id,
                               change.resource_origin_id))
        return [ChangeResult(change.delivery_id, external_user_id=f"ext-{change.user_id}")
                for change in changes]


@pytest.fixture
def admin(db):
    return UserFactory(email="global.admin@access.example", is_superuser=True)


@pytest.fixture
def systems(monkeypatch):
    """A SCIM application and an Entra tenant, their network clients replaced by a recorder."""
    RecordingConnector.calls = []
    for kind in (SystemKind.SCIM, SystemKind.ENTRA):
        monkeypatch.setitem(connectors._CLASSES, kind, RecordingConnector)
    return {kind: TargetSystem.objects.create(display_name=f"{kind} app", kind=kind,
                                              base_url=f"https://{kind}.example")
            for kind in (SystemKind.SCIM, SystemKind.ENTRA)}


def _remote_role(package, system, origin_id: str) -> ResourceRole:
    origin = OriginSystem.SCIM_GROUP if system.kind == SystemKind.SCIM else OriginSystem.GROUP
    resource = Resource.objects.create(
        catalog=package.catalog, origin_system=origin, origin_id=origin_id,
        display_name=f"Group {origin_id}", connector=system.kind, system=system)
    role = ResourceRole.objects.create(resource=resource, origin_id="Member",
                                       display_name="Member")
    ResourceRoleScope.objects.create(access_package=package, role=role)
    return role


def _holding(world, systems, person, count: int) -> list:
    """`person` holds `count` packages, each granting a local group, a SCIM group and an Entra
    group, assigned by the owner and delivered."""
    for n in range(count):
        package = PackageFactory(catalog=world.catalog, display_name=f"App {person.pk}-{n}")
        group_role(package, GroupFactory(display_name=f"Team {person.pk}-{n}"))
        for system in systems.values():
            _remote_role(package, system, f"{system.kind}-{person.pk}-{n}")
        policy = PolicyFactory(access_package=package)
        request_admin_add(actor=world.owner, access_package_id=package.pk, policy_id=policy.pk,
                          target=person)
    deliveries_process()
    assignments = list(_assignments_of(person))
    assert {a.state for a in assignments} == {AssignmentState.DELIVERED}
    return assignments


def _assignments_of(person):
    return Assignment.objects.filter(target=person).order_by("id")


def _leaver_event(person) -> AuditEvent:
    return AuditEvent.objects.get(action="user.deactivated", object_id=str(person.pk))


# Access


def test_every_assignment_ends_and_its_roles_are_revoked_in_each_system_after_commit(
        world, systems, admin, django_capture_on_commit_callbacks):
    person = UserFactory(email="leaver@access.example")
    assignments = _holding(world, systems, person, 2)
    RecordingConnector.calls = []

    with django_capture_on_commit_callbacks() as callbacks:
        person_deactivate(actor=admin, user_id=person.pk, reason="Left the company")

    ended = list(_assignments_of(person).values_list("state", "end_reason"))
    assert ended == [(AssignmentState.EXPIRED, EndReason.USER_DEACTIVATED)] * 2
    deliveries = RoleDelivery.objects.filter(assignment__in=assignments)
    # The portal's own groups are left in the same transaction; the systems' are queued.
    assert set(deliveries.filter(role__resource__connector="local")
               .values_list("action", "state")) == {(DeliveryAction.REVOKE, DeliveryState.DONE)}
    assert not GroupMembership.objects.filter(user=person).exists()
    assert sorted(deliveries.exclude(role__resource__connector="local")
                  .values_list("role__resource__connector", "action", "state")) == [
        (SystemKind.ENTRA, DeliveryAction.REVOKE, DeliveryState.PENDING)] * 2 + [
        (SystemKind.SCIM, DeliveryAction.REVOKE, DeliveryState.PENDING)] * 2
    assert RecordingConnector.calls == []  # nothing reached a system before the commit
    assert callbacks  # the workers are handed the revocations once it commits
    assert AuditEvent.objects.filter(action="assignment.removed").count() == 2

    deliveries_process()  # as the worker that the commit sets off
    assert sorted(call[:2] for call in RecordingConnector.calls) == [
        (SystemKind.ENTRA, DeliveryAction.REVOKE)] * 2 + [(SystemKind.SCIM,
                                                         DeliveryAction.REVOKE)] * 2
    assert _leaver_event(person).details["assignmentsEnded"] == 2
    # Somebody who has left is not emailed about each package they lose.
    assert not OutboxMessage.objects.filter(topic="access_ended", recipient_id=person.pk)

def test_the_leaver_is_one_transaction_of_the_caller(world, systems, admin):
    person = UserFactory(email="leaver@access.example")
    _holding(world, systems, person, 2)
    RecordingConnector.calls = []
    before = snapshot()

    class Abandoned(Exception):
        pass

    with pytest.raises(Abandoned), transaction.atomic():
        person_deactivate(actor=admin, user_id=person.pk)
        assert not _assignments_of(person).filter(state=AssignmentState.DELIVERED).exists()
        raise Abandoned

    assert snapshot() == before
    assert RecordingConnector.calls == []  # no system was told of a leaver who never left
    person.refresh_from_db()
    assert person.is_active
    assert GroupMembership.objects.filter(user=person).count() == 2


def test_the_leaver_costs_the_same_queries_for_50_assignments_as_for_5(
        world, systems, admin, django_assert_max_num_queries):
    few, many = UserFactory(email="few@access.example"), UserFactory(email="many@access.example")
    _holding(world, systems, few, 5)
    _holding(world, systems, many, 50)

    with CaptureQueriesContext(connection) as for_five:
        person_deactivate(actor=admin, user_id=few.pk)
    with django_assert_max_num_queries(len(for_five.captured_queries) + 2):
        person_deactivate(actor=admin, user_id=many.pk)

    assert _assignments_of(many).filter(state=AssignmentState.EXPIRED).count() == 50
    assert RoleDelivery.objects.filter(assignment__target=many, action=DeliveryAction.REVOKE,
                                       state=DeliveryState.PENDING).count() == 100
    assert _leaver_event(many).details["assignmentsEnded"] == 50


def test_active_false_from_person_update_is_the_leaver_too(world, admin):
    package = member_package(world)
    request_submit(requestor=world.member, access_package_id=package.pk)
    person_update(actor=admin, user_id=world.member.pk, changes={"active": False})
    world.member.refresh_from_db()
    assert not world.member.is_active and world.member.deactivated_at is not None
    assert _leaver_event(world.member).details["requestsCanceled"] == 1


def test_a_user_administrator_may_deactivate(world):
    user_admin = UserFactory(email="people.admin@access.example")
    GlobalRoleAssignment.objects.create(user=user_admin, role=GlobalRole.USER_ADMIN)
    person_deactivate(actor=user_admin, user_id=world.member.pk)
    world.member.refresh_from_db()
    assert not world.member.is_active


# Sign-in


def test_a_deactivated_persons_token_no_longer_authenticates(world, admin):
    _token, raw = personal_token_create(user=world.member, name="laptop")
    assert token_authenticate(raw)[0] == world.member
    person_deactivate(actor=admin, user_id=world.member.pk)
    assert token_authenticate(raw) is None
    assert PersonalToken.objects.get(user=world.member).revoked_at is not None
    assert _leaver_event(world.member).details["tokensRevoked"] == 1


def test_reactivation_restores_sign_in_but_no_access(world, systems, admin):
    person = UserFactory(email="returner@access.example")
    _holding(world, systems, person, 1)
    _token, raw = personal_token_create(user=person, name="laptop")
    person_deactivate(actor=admin, user_id=person.pk)

    person_reactivate(actor=admin, user_id=person.pk)

    person.refresh_from_db()
    assert person.is_active and person.deactivated_at is None
    assert _assignments_of(person).get().state == AssignmentState.EXPIRED
    assert not GroupMembership.objects.filter(user=person).exists()
    assert token_authenticate(raw) is None  # a revoked token stays revoked
    assert AuditEvent.objects.filter(action="user.reactivated",
                                     object_id=str(person.pk)).count() == 1


# Requests


def test_open_requests_made_by_or_for_the_person_are_canceled(world, admin):
    package = member_package(world)
    own = request_submit(requestor=world.member, access_package_id=package.pk)
    others = request_submit(requestor=world.second_approver, access_package_id=package.pk)
    stage = own.stages.get()

    person_deactivate(actor=admin, user_id=world.member.pk)

    own.refresh_from_db()
    stage.refresh_from_db()
    assert own.state == RequestState.CANCELED and own.completed_at is not None
    assert stage.state == StageState.SKIPPED
    others.refresh_from_db()
    assert others.state == RequestState.PENDING_APPROVAL
    told = OutboxMessage.objects.get(topic="approval_canceled", recipient=world.approver)
    text = render_email("approval_canceled", told.payload, world.approver).text
    assert f"{world.member} has left" in text and "canceled the request" not in text
    assert stage_outcome_message(stage, own) == f"Canceled: {world.member} was deactivated."
    event = AuditEvent.objects.get(action="request.canceled", object_id=str(own.pk))
    assert event.details["cause"] == RequestCause.SYSTEM
    assert event.actor == admin


# Approvals the person holds


def _pending_for(world, *approvers, **stage_options):
    package = member_package(world, approvers=list(approvers), **stage_options)
    request = request_submit(requestor=world.member, access_package_id=package.pk)
    return request.stages.get()


def _approvers(stage) -> list[tuple[str, str]]:
    return sorted(StageApprover.objects.filter(stage=stage)
                  .values_list("user__email", "kind"))


def test_a_held_approval_stays_with_the_remaining_approver(world, admin):
    leaver = UserFactory(email="leaver@access.example")
    stage = _pending_for(world, leaver, world.approver,
                         fallback=[UserFactory(email="fallback@access.example")])
    person_deactivate(actor=admin, user_id=leaver.pk)
    assert _approvers(stage) == [(world.approver.email, ApproverKind.PRIMARY)]
    assert OutboxMessage.objects.filter(topic="approval_needed").count() == 2  # at its start
    event = AuditEvent.objects.get(action="stage.handedOn", object_id=str(stage.pk))
    assert event.details["takenOverBy"] == "remainingApprovers"
    assert _leaver_event(leaver).details["stagesHandedOn"] == 1


def test_a_held_approval_goes_to_the_fallback_approvers(world, admin):
    leaver = UserFactory(email="leaver@access.example")
    fallback = UserFactory(email="fallback@access.example")
    stage = _pending_for(world, leaver, fallback=[fallback, leaver])
    person_deactivate(actor=admin, user_id=leaver.pk)
    assert _approvers(stage) == [(fallback.email, ApproverKind.FALLBACK)]
    assert OutboxMessage.objects.filter(topic="approval_needed", recipient=fallback).count() == 1
    event = AuditEvent.objects.get(action="stage.handedOn", object_id=str(stage.pk))
    assert (event.actor, event.after) == (admin, {"approvers": [fallback.email]})


def test_a_held_approval_without_fallback_approvers_escalates(world, admin):
    leaver = UserFactory(email="leaver@access.example")
    alternate = UserFactory(email="alternate@access.example")
    stage = _pending_for(world, leaver, escalation=[alternate], escalate_after_days=3)
    person_deactivate(actor=admin, user_id=leaver.pk)
    stage.refresh_from_db()
    assert _approvers(stage) == [(alternate.email, ApproverKind.ESCALATION)]
    assert stage.escalated_at is not None and stage.state == StageState.IN_PROGRESS
    assert OutboxMessage.objects.filter(topic="approval_escalated",
                                        recipient=alternate).count() == 1
    assert AuditEvent.objects.filter(action="stage.escalated").count() == 1


# Reviews the person owes


def test_review_decisions_owed_go_to_the_fallback_reviewers(world, admin):
    leaver = UserFactory(email="leaver@access.example")
    fallback = UserFactory(email="fallback.reviewer@access.example")
    colleague = UserFactory(email="colleague@access.example")
    _package, policy, held = holders(world, [world.member, colleague, world.second_approver])
    reviews_on(policy, primary=(Reviewer(ReviewerType.MANAGER),),
               fallback=(Reviewer(ReviewerType.SINGLE_USER, user_id=fallback.pk),))
    review = review_by_hand(policy, held.values(), reviewers={
        held[world.member]: [leaver],                        # owed by the leaver alone
        held[colleague]: [leaver, world.approver],           # someone else reviews it too
        held[world.second_approver]: [leaver]})
    answered = held[world.second_approver].review_decisions.get()
    answered.decision, answered.reviewed_by = ReviewDecisionValue.APPROVE, leaver
    answered.save()

    person_deactivate(actor=admin, user_id=leaver.pk)

    def reviewers(person):
        return sorted(DecisionReviewer.objects.filter(decision__principal=person,
                                                      decision__review=review)
                      .values_list("user__email", flat=True))

    assert reviewers(world.member) == [fallback.email]
    assert reviewers(colleague) == [world.approver.email]
    assert reviewers(world.second_approver) == [leaver.email]  # what they decided stands
    assert OutboxMessage.objects.filter(topic="review_started", recipient=fallback).count() == 1
    event = AuditEvent.objects.get(action="review.handedOn", object_id=str(review.pk))
    assert (event.details["decisionsOwed"], event.details["fallbackDecisionReviewers"]) == (2, 1)
    assert _leaver_event(leaver).details["reviewsHandedOn"] == 1


# Catalogs left without an owner


def test_a_catalog_left_without_an_active_owner_is_shown_to_the_administrator(world, admin,
                                                                             as_user):
    index = reverse("admin:index")
    assert world.catalog not in catalogs_without_owner(admin)
    assert "has no active owner" not in as_user(admin).get(index).content.decode()

    person_deactivate(actor=admin, user_id=world.owner.pk)

    assert list(catalogs_without_owner(admin)) == [world.catalog]
    # The role stays: someone gives the catalog a new owner, and may take it away then.
    assert CatalogRoleAssignment.objects.filter(catalog=world.catalog, user=world.owner).exists()
    page = as_user(admin).get(index).content.decode()
    link = reverse("admin:governance_catalog_change", args=[world.catalog.pk])
    assert f'Catalog Projects has no active owner: <a href="{link}">' in page


# Refusals: nothing written


def _people_state() -> list[tuple]:
    return sorted(User.objects.values_list("id", "is_active", "deactivated_at", "manager_id"))


@pytest.fixture
def refused(assert_refused):
    def check(action, error, code, *words):
        people = _people_state()
        tokens = sorted(PersonalToken.objects.values_list("id", "revoked_at"))
        assert_refused(action, error, code, *words)
        assert _people_state() == people
        assert sorted(PersonalToken.objects.values_list("id", "revoked_at")) == tokens
    return check


def test_only_administrators_deactivate(world, refused):
    package = member_package(world)
    request_submit(requestor=world.member, access_package_id=package.pk)
    personal_token_create(user=world.member, name="laptop")
    refused(lambda: person_deactivate(actor=world.owner, user_id=world.member.pk),
            NotAllowed, "notAllowed", "administrators")
    refused(lambda: person_update(actor=world.approver, user_id=world.member.pk,
                                  changes={"active": False}),
            NotAllowed, "notAllowed", "administrators")


def test_deactivating_someone_inactive_is_refused(world, admin, refused):
    person_deactivate(actor=admin, user_id=world.member.pk)
    refused(lambda: person_deactivate(actor=admin, user_id=world.member.pk),
            InvalidState, "alreadyInactive", world.member.email)
