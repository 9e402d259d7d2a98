"""Starting access reviews: who is in scope, the recommendations, who reviews whom, the emails
and the audit event; and the sweep that starts each policy's current review once."""

import logging
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from governance.choices import (
    AccountState,
    AssignmentState,
    CatalogRole,
    GroupMembershipRole,
    ReviewDecisionValue,
    ReviewerType,
    ReviewRecommendation,
    ReviewRecurrence,
    ReviewState,
)
from governance.models import (
    AccessReview,
    Assignment,
    AuditEvent,
    DecisionReviewer,
    GroupMembership,
    OutboxMessage,
    ReviewDecision,
    ReviewReviewer,
)
from governance.models.review_settings import Reviewer, ReviewSettings
from governance.services.errors import InvalidState
from governance.services.outbox import email
from governance.services.review_start import review_start, reviews_start_due
from tests.factories import GroupFactory, PolicyFactory, UserFactory, role_holder

FIRST = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # quarterly: 5 January, 5 April, …
SECOND = datetime(2026, 4, 5, 9, 0, tzinfo=UTC)


def enable(policy, *, self_review=False, primary=(), fallback=(), recommendations=True):
    policy.review_settings = ReviewSettings(
        is_enabled=True, recurrence=ReviewRecurrence.QUARTERLY, start_at=FIRST,
        duration=timedelta(days=14), is_self_review=self_review, primary=tuple(primary),
        fallback=tuple(fallback), is_recommendation_enabled=recommendations).to_graph()
    policy.save(update_fields=["review_settings"])


def assign(world, person, *, state=AssignmentState.DELIVERED, policy=None) -> Assignment:
    return Assignment.objects.create(
        access_package=world.package, policy=policy or world.policy, target=person,
        state=state, start_at=FIRST - timedelta(days=90), created_at=FIRST - timedelta(days=90))


def start(world) -> AccessReview:
    with time_machine.travel(FIRST + timedelta(minutes=5), tick=False):
        return review_start(policy_id=world.policy.pk, start_at=FIRST)


def single(user) -> Reviewer:
    return Reviewer(ReviewerType.SINGLE_USER, user_id=user.pk)


def reviewers_by_principal(review) -> dict[str, set[str]]:
    found = {decision.principal.email: set() for decision in review.decisions.all()}
    for row in DecisionReviewer.objects.filter(decision__review=review).select_related(
            "decision__principal", "user"):
        found[row.decision.principal.email].add(row.user.email)
    return found


def review_wide(review) -> set[str]:
    return set(ReviewReviewer.objects.filter(review=review).values_list("user__email", flat=True))


def test_decisions_only_for_the_active_assignments_of_that_policy(world):
    enable(world.policy, self_review=True)
    delivered = assign(world, world.requester)
    delivering = assign(world, world.member, state=AssignmentState.DELIVERING)
    assign(world, world.outsider, state=AssignmentState.EXPIRED)
    other_policy = PolicyFactory(access_package=world.package)
    assign(world, world.approver, policy=other_policy)
    review = start(world)
    assert set(review.decisions.values_list("assignment_id", "principal_id", "decision")) == {
        (delivered.pk, world.requester.pk, ReviewDecisionValue.NOT_REVIEWED),
        (delivering.pk, world.member.pk, ReviewDecisionValue.NOT_REVIEWED)}


def test_the_review_copies_the_settings_and_lasts_their_duration(world):
    enable(world.policy, self_review=True)
    copied = dict(world.policy.review_settings)
    review = start(world)
    world.policy.review_settings = {**copied, "isSelfReview": False}
    world.policy.save()
    review.refresh_from_db()
    assert review.settings == copied
    assert (review.start_at, review.end_at) == (FIRST, FIRST + timedelta(days=14))
    assert review.created_at == FIRST + timedelta(minutes=5)
    assert (review.state, review.access_package) == (ReviewState.IN_PROGRESS, world.package)


def test_deny_is_recommended_for_people_who_have_not_signed_in_for_30_days(world):
    enable(world.policy, self_review=True)
    never = world.requester
    long_ago = UserFactory(email="long.ago@access.example",
                           last_login=FIRST - timedelta(days=30, minutes=1))
    recently = UserFactory(email="recently@access.example",
                           last_login=FIRST - timedelta(days=29))
    for person in (never, long_ago, recently):
        assign(world, person)
    review = start(world)
    assert {d.principal.email: (d.recommendation, d.recommendation_reason)
            for d in review.decisions.all()} == {
        never.email: (ReviewRecommendation.DENY, "Has not signed in for 30 days"),
        long_ago.email: (ReviewRecommendation.DENY, "Has not signed in for 30 days"),
        recently.email: (ReviewRecommendation.APPROVE, "Signed in within the last 30 days")}


def test_no_recommendation_when_recommendations_are_off(world):
    enable(world.policy, self_review=True, recommendations=False)
    assign(world, world.requester)
    review = start(world)
    assert list(review.decisions.values_list("recommendation", "recommendation_reason")) == [
        (ReviewRecommendation.NOT_AVAILABLE, "")]


def test_in_self_review_each_person_reviews_their_own_access(world):
    enable(world.policy, self_review=True, fallback=[single(world.owner)])
    assign(world, world.requester)
    assign(world, world.member)
    review = start(world)
    assert reviewers_by_principal(review) == {world.requester.email: {world.requester.email},
                                              world.member.email: {world.member.email}}
    assert review_wide(review) == set()


def test_manager_reviews_and_fallback_takes_people_without_a_manager(world):
    world.requester.manager = world.approver
    world.requester.save()
    enable(world.policy, primary=[Reviewer(ReviewerType.MANAGER)],
           fallback=[single(world.owner)])
    assign(world, world.requester)
    assign(world, world.member)
    review = start(world)
    assert reviewers_by_principal(review) == {world.requester.email: {world.approver.email},
                                              world.member.email: {world.owner.email}}


def test_sponsors_of_the_persons_organisation_review_them(world):
    sponsor = UserFactory(email="sponsor@access.example")
    world.organization.internal_sponsors.add(sponsor, world.second_approver)
    world.organization.external_sponsors.add(world.outsider)
    enable(world.policy, primary=[Reviewer(ReviewerType.SPONSORS)],
           fallback=[single(world.owner)])
    assign(world, world.requester)
    assign(world, world.member)  # in no connected organisation
    review = start(world)
    assert reviewers_by_principal(review) == {
        world.requester.email: {sponsor.email, world.second_approver.email},
        world.member.email: {world.owner.email}}


def test_single_users_group_members_and_package_managers_review_every_decision(world):
    package_manager = role_holder(world.catalog, CatalogRole.PACKAGE_MANAGER,
                                  email="package.manager@access.example")
    role_holder(world.catalog, CatalogRole.READER, email="reader@access.example")
    GroupMembership.objects.create(group=world.group, user=world.second_approver)
    GroupMembership.objects.create(group=world.group, user=world.outsider,
                                   role=GroupMembershipRole.OWNER)
    enable(world.policy, primary=[single(world.approver),
                                  Reviewer(ReviewerType.GROUP_MEMBERS, group_id=world.group.pk),
                                  Reviewer(ReviewerType.PACKAGE_MANAGERS)],
           fallback=[single(world.member)])
    assign(world, world.requester)
    review = start(world)
    assert review_wide(review) == {world.approver.email, world.second_approver.email,
                                   world.owner.email, package_manager.email}
    assert reviewers_by_principal(review) == {world.requester.email: set()}


def test_nobody_reviews_their_own_access_outside_self_review(world):
    falcon = GroupFactory(display_name="Falcon leads")
    for person in (world.member, world.approver):
        GroupMembership.objects.create(group=falcon, user=person)
    enable(world.policy, primary=[Reviewer(ReviewerType.MANAGER)],
           fallback=[Reviewer(ReviewerType.GROUP_MEMBERS, group_id=falcon.pk)])
    assign(world, world.requester)
    assign(world, world.member)
    review = start(world)
    assert reviewers_by_principal(review) == {
        world.requester.email: {world.member.email, world.approver.email},
        world.member.email: {world.approver.email}}


def test_fallback_takes_a_decision_whose_only_reviewer_is_the_person_themselves(world):
    enable(world.policy, primary=[single(world.member)], fallback=[single(world.owner)])
    assign(world, world.requester)
    assign(world, world.member)
    review = start(world)
    assert review_wide(review) == {world.member.email}
    assert reviewers_by_principal(review) == {world.requester.email: set(),
                                              world.member.email: {world.owner.email}}


def test_a_blocked_manager_is_no_reviewer_and_the_fallback_steps_in(world):
    world.approver.account_state = AccountState.BLOCKED
    world.approver.blocked_at = FIRST
    world.approver.save()
    world.requester.manager = world.approver
    world.requester.save()
    enable(world.policy, primary=[Reviewer(ReviewerType.MANAGER)],
           fallback=[single(world.owner)])
    assign(world, world.requester)
    review = start(world)
    assert reviewers_by_principal(review) == {world.requester.email: {world.owner.email}}


def test_each_reviewer_gets_one_review_started_email_and_the_start_is_audited(
        world, django_capture_on_commit_callbacks):
    world.requester.manager = world.approver
    world.requester.save()
    world.member.manager = world.approver
    world.member.save()
    enable(world.policy, primary=[Reviewer(ReviewerType.MANAGER), single(world.owner)])
    assign(world, world.requester)
    assign(world, world.member)
    with django_capture_on_commit_callbacks() as after_commit:
        review = start(world)
    assert len(after_commit) == 1  # the outbox is told once, after the commit
    messages = OutboxMessage.objects.filter(topic="review_started")
    assert sorted(messages.values_list("to_address", "payload", "dedupe_key")) == [
        (world.approver.email, {"review_id": review.pk},
         f"review_started:{review.pk}:{world.approver.pk}"),
        (world.owner.email, {"review_id": review.pk},
         f"review_started:{review.pk}:{world.owner.pk}")]
    # Written in SQL: the same row as the outbox's own email() builds, due at once.
    built = email(topic="review_started", recipient_id=world.owner.pk,
                  to_address=world.owner.email, payload={"review_id": review.pk},
                  dedupe_key=f"review_started:{review.pk}:{world.owner.pk}")
    written = messages.get(recipient=world.owner)
    fields = [field.attname for field in OutboxMessage._meta.concrete_fields
              if field.attname not in {"id", "created_at", "next_attempt_at"}]
    assert [getattr(written, f) for f in fields] == [getattr(built, f) for f in fields]
    assert written.created_at == written.next_attempt_at == FIRST + timedelta(minutes=5)
    event = AuditEvent.objects.get(action="review.started")
    assert (event.object_type, event.object_id) == ("accessreview", str(review.pk))
    assert event.details == {"policy": world.policy.pk, "decisions": 2, "reviewers": 1,
                             "decisionReviewers": 2, "fallbackDecisionReviewers": 0,
                             "emails": 2}


def test_starting_the_same_review_twice_starts_it_once(world):
    enable(world.policy, self_review=True)
    assign(world, world.requester)
    first = start(world)
    assert start(world) is None
    assert AccessReview.objects.get() == first
    assert ReviewDecision.objects.count() == DecisionReviewer.objects.count() == 1
    assert OutboxMessage.objects.filter(topic="review_started").count() == 1
    assert AuditEvent.objects.filter(action="review.started").count() == 1


def test_a_policy_without_reviews_is_refused(world):
    with pytest.raises(InvalidState) as refused:
        review_start(policy_id=world.policy.pk, start_at=FIRST)
    assert refused.value.code == "reviewsNotEnabled"
    assert not AccessReview.objects.exists()


def sweep(moment) -> int:
    with time_machine.travel(moment, tick=False):
        return reviews_start_due()


def test_the_sweep_starts_the_current_period_once(world):
    enable(world.policy, self_review=True)
    assign(world, world.requester)
    assert sweep(FIRST - timedelta(minutes=1)) == 0
    assert sweep(FIRST + timedelta(minutes=1)) == 1
    assert sweep(FIRST + timedelta(days=3)) == 0
    assert list(AccessReview.objects.values_list("start_at", flat=True)) == [FIRST]


def test_the_sweep_starts_only_the_latest_period_and_not_one_that_is_over(world):
    enable(world.policy, self_review=True)
    assign(world, world.requester)
    # Nothing ran in January: in April only April's review starts.
    assert sweep(SECOND + timedelta(days=2)) == 1
    assert list(AccessReview.objects.values_list("start_at", flat=True)) == [SECOND]
    # July's period ended (14 days) before the sweep ran again.
    assert sweep(SECOND.replace(month=7) + timedelta(days=14)) == 0
    assert AccessReview.objects.count() == 1


def test_the_sweep_skips_disabled_and_broken_settings_and_goes_on(world, caplog):
    broken = world.policy
    broken.review_settings = {
        "isEnabled": True, "isSelfReview": True,
        "schedule": {"startDateTime": "2026-01-05T09:00:00Z",
                     "recurrence": {"pattern": {"type": "daily", "interval": 1}}}}
    broken.save()
    disabled = PolicyFactory(access_package=world.package)
    enable(disabled, self_review=True)
    disabled.review_settings["isEnabled"] = False
    disabled.save()
    good = PolicyFactory(access_package=world.package)
    enable(good, self_review=True)
    for policy, person in ((broken, world.requester), (disabled, world.member),
                           (good, world.approver)):
        assign(world, person, policy=policy)
    assert broken.pk < disabled.pk < good.pk  # the sweep goes on after the broken one
    with caplog.at_level(logging.WARNING, logger="governance.services.review_start"):
        assert sweep(FIRST + timedelta(hours=1)) == 1
    assert list(AccessReview.objects.values_list("policy_id", flat=True)) == [good.pk]
    assert f"No review started for policy {broken.pk}" in caplog.text
    assert "recurrence" in caplog.text


def test_a_review_wide_reviewer_with_only_their_own_access_to_review_is_not_emailed(world):
    enable(world.policy, primary=[single(world.owner), single(world.approver)])
    assign(world, world.owner)  # the owner's own access: not theirs to review
    review = start(world)
    assert review_wide(review) == {world.owner.email, world.approver.email}
    assert list(OutboxMessage.objects.filter(topic="review_started").values_list(
        "to_address", flat=True)) == [world.approver.email]
