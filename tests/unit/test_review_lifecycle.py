"""Quarterly access reviews from start to results, with the clock moved: started by the
review sweep, emailed (the link to the review), reminded once at mid-point, decided and
changed until the end, closed and applied through the removal service, audited, and denied
guests then blocked and deleted by the external-user lifecycle."""

from datetime import timedelta

import pytest
import time_machine
from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.core import mail
from django.urls import reverse

from governance.choices import (
    AccountState,
    AssignmentState,
    EndReason,
    ExternalUserLifecycleAction,
    ReviewAppliedResult,
    ReviewDecisionValue,
    ReviewerType,
    ReviewExpirationBehavior,
    ReviewRecommendation,
    ReviewState,
    SubjectLifecycle,
)
from governance.models import (
    AccessReview,
    Assignment,
    AuditEvent,
    OutboxMessage,
    TenantSettings,
)
from governance.models.review_settings import Reviewer
from governance.selectors.reviews import decisions_for_reviewer, reviews_for_reviewer
from governance.services.errors import InvalidInput, InvalidState, NotFound
from governance.services.guests import guests_delete_due
from governance.services.outbox import outbox_send_due
from governance.services.reviews import review_accept_recommendations, review_decide
from governance.tasks import sweep_reviews
from tests.factories import UserFactory
from tests.review_helpers import FIRST_START, decision_of, decisions_state, holders, reviews_on

APPROVE, DENY = ReviewDecisionValue.APPROVE, ReviewDecisionValue.DENY
BEFORE = FIRST_START - timedelta(days=60)
MIDDLE = FIRST_START + timedelta(days=7)
END = FIRST_START + timedelta(days=14)
DAY = timedelta(days=1)


@pytest.fixture(autouse=True)
def locmem_email(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture
def people(world):
    """The requester (a guest of Contoso), the member and a colleague hold a package since
    two months before the first review; the approver manages both members, the owner owns
    the catalog. The tenant blocks guests who lose their last access, and deletes them a
    week later."""
    colleague = UserFactory(email="colleague@access.example", display_name="Colleague")
    for person in (world.member, colleague):
        person.manager = world.approver
        person.save(update_fields=["manager"])
    tenant = TenantSettings.current()
    tenant.external_user_lifecycle_action = ExternalUserLifecycleAction.BLOCK_AND_DELETE
    tenant.days_until_external_user_deleted_after_blocked = 7
    tenant.save()
    with time_machine.travel(BEFORE, tick=False):
        package, policy, assignments = holders(world, [world.requester, world.member,
                                                       colleague])
    return package, policy, assignments, colleague


def _at(moment):
    return time_machine.travel(moment, tick=False)


def _sweep(moment) -> dict:
    with _at(moment):
        return sweep_reviews()


def _sent(topic_subject: str) -> list:
    """Send what the outbox holds; the emails whose subject starts with `topic_subject`."""
    outbox_send_due()
    return [message for message in mail.outbox if message.subject.startswith(topic_subject)]


def _html(message) -> str:
    return message.alternatives[0][0]


def _review_link(review) -> str:
    return f"{settings.SITE_URL}{reverse('review_detail', args=[review.pk])}"


def test_a_quarterly_self_review_removes_what_people_no_longer_need(world, people,
                                                                    assert_refused):
    package, policy, assignments, colleague = people
    reviews_on(policy, is_self_review=True,
               expiration_behavior=ReviewExpirationBehavior.REMOVE_ACCESS)
    assert _sweep(FIRST_START - timedelta(minutes=1))["started"] == 0
    assert _sweep(FIRST_START + timedelta(minutes=1)) == {"started": 1, "reminded": 0,
                                                          "ended": 0}
    review = AccessReview.objects.get()
    assert (review.start_at, review.end_at) == (FIRST_START, END)

    # Each person is asked, with a link to the review, whether they still need access.
    with _at(FIRST_START + timedelta(minutes=2)):
        started = _sent("Do you still need access to Falcon wiki?")
    assert sorted(message.to[0] for message in started) == sorted(
        [world.requester.email, world.member.email, colleague.email])
    for message in started:
        assert _review_link(review) in message.body
        assert f'href="{_review_link(review)}"' in _html(message)
    assert "Access nobody answers for is removed" in started[0].body

    # The guest no longer needs it; the member does, after changing their mind twice.
    with _at(FIRST_START + DAY):
        review_decide(reviewer=world.requester, decision_id=decision_of(review,
                      world.requester).pk, decision=DENY)
        member_decision = decision_of(review, world.member).pk
        for answer in (DENY, APPROVE):
            review_decide(reviewer=world.member, decision_id=member_decision, decision=answer)
        # Nobody answers for someone else in a self-review.
        assert_refused(lambda: review_decide(reviewer=world.member,
                                             decision_id=decision_of(review, colleague).pk,
                                             decision=APPROVE),
                       NotFound, "decisionNotFound", "not yours to review")

    # The reminder goes once, at mid-point, to the colleague who has not answered.
    assert _sweep(MIDDLE - timedelta(minutes=1))["reminded"] == 0
    mail.outbox.clear()
    assert _sweep(MIDDLE)["reminded"] == 1
    assert _sweep(MIDDLE + DAY)["reminded"] == 0
    with _at(MIDDLE + timedelta(minutes=1)):
        (reminder,) = _sent("Reminder: do you still need access to Falcon wiki?")
    assert reminder.to == [colleague.email] and _review_link(review) in reminder.body

    # The end: the denied and the unanswered access is removed, the approved one kept.
    assert _sweep(END - timedelta(minutes=1))["ended"] == 0
    assert _sweep(END)["ended"] == 1
    review.refresh_from_db()
    assert review.state == ReviewState.APPLIED and review.applied_at == END
    results = {person: decision_of(review, person).applied_result
               for person in (world.requester, world.member, colleague)}
    assert results == {world.requester: ReviewAppliedResult.REMOVED,
                       world.member: ReviewAppliedResult.KEPT,
                       colleague: ReviewAppliedResult.REMOVED}
    ended = Assignment.objects.filter(access_package=package, state=AssignmentState.EXPIRED)
    assert set(ended.values_list("target", flat=True)) == {world.requester.pk, colleague.pk}
    assert set(ended.values_list("end_reason", flat=True)) == {EndReason.REMOVED_BY_REVIEW}
    applied = AuditEvent.objects.get(action="review.applied")
    assert (applied.actor, applied.details["removed"], applied.details["kept"]) == (None, 2, 1)
    assert AuditEvent.objects.filter(action="assignment.removed").count() == 2
    assert AuditEvent.objects.filter(action="review.decided").count() == 3

    # Decisions no longer change.
    with _at(END + timedelta(minutes=5)):
        before = decisions_state(review)
        assert_refused(lambda: review_decide(reviewer=world.member, decision_id=member_decision,
                                             decision=DENY),
                       InvalidState, "reviewClosed", "This review ended on",
                       "decisions can no longer change")
        assert decisions_state(review) == before

    # The owners get the results; the people whose access ended are told.
    with _at(END + timedelta(minutes=1)):
        (results_email,) = _sent("Access review results: Falcon wiki")
        ended_emails = _sent("Access ended: Falcon wiki")
    assert results_email.to == [world.owner.email]
    assert "Access removed: 2" in results_email.body and "Access kept: 1" in results_email.body
    assert f"/admin/governance/accessreview/{review.pk}/" in results_email.body
    assert sorted(message.to[0] for message in ended_emails) == sorted(
        [world.requester.email, colleague.email])

    # The denied guest follows the external-user lifecycle: blocked at once, deleted later.
    guest = world.requester
    guest.refresh_from_db()
    assert guest.subject_lifecycle == SubjectLifecycle.GOVERNED
    assert (guest.account_state, guest.blocked_at) == (AccountState.BLOCKED, END)
    assert guest.delete_due_at == END + timedelta(days=7)
    with _at(END + timedelta(days=6)):
        assert guests_delete_due() == 0
    with _at(END + timedelta(days=7, minutes=1)):
        assert guests_delete_due() == 1
    guest.refresh_from_db()
    assert guest.account_state == AccountState.DELETED

    # The next quarter reviews what is left: the member's access.
    next_start = FIRST_START + relativedelta(months=3)
    assert _sweep(next_start + timedelta(minutes=1))["started"] == 1
    second = AccessReview.objects.exclude(pk=review.pk).get()
    assert list(second.decisions.values_list("principal", flat=True)) == [world.member.pk]


def test_a_quarterly_manager_review_with_recommendations(world, people, assert_refused):
    package, policy, assignments, colleague = people
    # The member signed in a day before the review; the colleague and the guest have not
    # signed in for 30 days. Nobody manages the guest: the fallback reviewer does.
    for person, last_login in ((world.member, FIRST_START - DAY),
                               (colleague, FIRST_START - timedelta(days=31)),
                               (world.requester, None)):
        person.last_login = last_login
        person.save(update_fields=["last_login"])
    reviews_on(policy, primary=(Reviewer(ReviewerType.MANAGER),),
               fallback=(Reviewer(ReviewerType.SINGLE_USER, user_id=world.second_approver.pk),),
               is_justification_required=True,
               expiration_behavior=ReviewExpirationBehavior.ACCEPT_RECOMMENDATION)
    _sweep(FIRST_START + timedelta(minutes=1))
    review = AccessReview.objects.get()
    with _at(FIRST_START + timedelta(minutes=2)):
        started = _sent("Access review: Falcon wiki")
    assert sorted(message.to[0] for message in started) == sorted(
        [world.approver.email, world.second_approver.email])
    managers = next(message for message in started if message.to == [world.approver.email])
    assert "For each of the 2 people you review" in managers.body
    assert _review_link(review) in managers.body

    with _at(FIRST_START + DAY):
        (listed,) = reviews_for_reviewer(world.approver)
        assert (listed.pk, listed.total, listed.to_review) == (review.pk, 2, 2)
        shown = {decision.principal: (decision.recommendation, decision.recommendation_reason)
                 for decision in decisions_for_reviewer(world.approver, review.pk)}
        assert shown == {
            world.member: (ReviewRecommendation.APPROVE, "Signed in within the last 30 days"),
            colleague: (ReviewRecommendation.DENY, "Has not signed in for 30 days")}

        # The guest is outside the manager's scope; a blank justification is refused.
        guest_decision = decision_of(review, world.requester)
        before = decisions_state(review)
        assert_refused(lambda: review_decide(reviewer=world.approver,
                                             decision_id=guest_decision.pk, decision=APPROVE,
                                             justification="Knows them"),
                       NotFound, "decisionNotFound", "not yours to review")
        refusal = assert_refused(
            lambda: review_decide(reviewer=world.approver,
                                  decision_id=decision_of(review, world.member).pk,
                                  decision=APPROVE, justification=" "),
            InvalidInput, "justificationRequired", "justification")
        assert refusal.field == "justification"
        assert decisions_state(review) == before

        # Accepting the recommendations decides both, with the reason as justification.
        assert review_accept_recommendations(reviewer=world.approver,
                                             review_id=review.pk) == 2
        assert decision_of(review, colleague).justification == (
            "Accepted the recommendation: Has not signed in for 30 days")
        assert reviews_for_reviewer(world.approver).get().to_review == 0

    # At mid-point only the fallback reviewer, who has not answered, is reminded.
    assert _sweep(MIDDLE)["reminded"] == 1
    assert list(OutboxMessage.objects.filter(topic="review_reminder")
                .values_list("recipient", flat=True)) == [world.second_approver.pk]

    # The manager changes their mind about the colleague before the end.
    with _at(MIDDLE + DAY):
        review_decide(reviewer=world.approver, decision_id=decision_of(review, colleague).pk,
                      decision=APPROVE, justification="Back from leave next week")
    _sweep(END)
    results = {person: decision_of(review, person).applied_result
               for person in (world.requester, world.member, colleague)}
    # Nobody answered for the guest: the recommendation (Deny) is taken.
    assert results == {world.requester: ReviewAppliedResult.REMOVED,
                       world.member: ReviewAppliedResult.KEPT,
                       colleague: ReviewAppliedResult.KEPT}
    world.requester.refresh_from_db()
    assert world.requester.account_state == AccountState.BLOCKED
    colleague_decision = decision_of(review, colleague)
    assert (colleague_decision.decision, colleague_decision.reviewed_by) == (APPROVE,
                                                                            world.approver)
    assert AuditEvent.objects.get(action="review.applied").details["removed"] == 1


@pytest.mark.parametrize(("behavior", "removed"), [
    (ReviewExpirationBehavior.KEEP_ACCESS, set()),
    (ReviewExpirationBehavior.REMOVE_ACCESS, {"requester", "member", "colleague"}),
    # Recommendations: the member signed in lately (Approve), the others not (Deny).
    (ReviewExpirationBehavior.ACCEPT_RECOMMENDATION, {"requester", "colleague"}),
])
def test_when_nobody_answers_the_no_answer_behavior_applies(world, people, behavior, removed):
    package, policy, assignments, colleague = people
    world.member.last_login = FIRST_START - DAY
    world.member.save(update_fields=["last_login"])
    reviews_on(policy, primary=(Reviewer(ReviewerType.SINGLE_USER, user_id=world.owner.pk),),
               expiration_behavior=behavior)
    _sweep(FIRST_START)
    assert _sweep(END) == {"started": 0, "reminded": 0, "ended": 1}
    names = {world.requester: "requester", world.member: "member", colleague: "colleague"}
    active = set(Assignment.objects.filter(access_package=package,
                                           state=AssignmentState.DELIVERED)
                 .values_list("target", flat=True))
    assert {names[person] for person in names if person.pk not in active} == removed
    review = AccessReview.objects.get()
    assert review.state == ReviewState.APPLIED
    assert review.reminded_at is None  # the sweep never ran at mid-point
    details = AuditEvent.objects.get(action="review.applied").details
    assert (details["notReviewed"], details["removed"]) == (3, len(removed))


def test_a_review_without_automatic_application_waits_for_an_owner(world, people):
    from governance.services.reviews import review_apply

    package, policy, assignments, colleague = people
    reviews_on(policy, primary=(Reviewer(ReviewerType.SINGLE_USER, user_id=world.owner.pk),),
               auto_apply=False, expiration_behavior=ReviewExpirationBehavior.REMOVE_ACCESS)
    _sweep(FIRST_START)
    _sweep(END)
    review = AccessReview.objects.get()
    assert review.state == ReviewState.COMPLETED
    assert Assignment.objects.filter(access_package=package,
                                     state=AssignmentState.DELIVERED).count() == 3
    with _at(END + timedelta(minutes=1)):
        (waiting,) = _sent("Access review results: Falcon wiki (to apply)")
    assert "apply them from its page in the admin" in waiting.body
    assert _sweep(END + DAY)["ended"] == 0  # still waiting: the sweep does not apply it
    with _at(END + 2 * DAY):
        counts = review_apply(review_id=review.pk, actor=world.owner)
    assert counts["removed"] == 3
    review.refresh_from_db()
    assert (review.state, review.applied_at) == (ReviewState.APPLIED, END + 2 * DAY)
