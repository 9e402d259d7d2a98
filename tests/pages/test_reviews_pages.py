"""Access reviews in My Access: the pending list, one review's people with Approve, Deny and
Don't know, Accept recommendations, self-review, and a review that has ended."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from governance import clock
from governance.choices import (
    AssignmentState,
    ReviewDecisionValue,
    ReviewRecommendation,
    ReviewState,
)
from governance.models import (
    AccessReview,
    Assignment,
    DecisionReviewer,
    ReviewDecision,
    ReviewReviewer,
)
from tests.factories import GuestFactory, UserFactory

INACTIVE = "Has not signed in for 30 days"


def _settings(world, **flags) -> dict:
    """A policy's review settings as Graph writes them; the world's approver reviews."""
    return {"isEnabled": True, "isSelfReview": False, "isRecommendationEnabled": True,
            "isReviewerJustificationRequired": False, "expirationBehavior": "keepAccess",
            "autoApplyDecisionsEnabled": True,
            "schedule": {"startDateTime": "2026-01-05T09:00:00Z",
                         "expiration": {"duration": "P14D", "type": "afterDuration"},
                         "recurrence": {"pattern": {"type": "absoluteMonthly", "interval": 3}}},
            "primaryReviewers": [{"@odata.type": "#microsoft.graph.singleUser",
                                  "userId": str(world.approver.pk)}],
            "fallbackReviewers": []} | flags


def _review(world, people, *, reviewer=None, state=ReviewState.IN_PROGRESS, **flags):
    """A review of the world's policy with one decision per person (a Deny recommendation for
    every second one), reviewed as a whole by `reviewer` (the approver), or by each person
    themselves when isSelfReview is set."""
    now = clock.now()
    review = AccessReview.objects.create(
        policy=world.policy, access_package=world.package, settings=_settings(world, **flags),
        start_at=now - timedelta(days=1), end_at=now + timedelta(days=13), created_at=now,
        state=state)
    assignments = Assignment.objects.bulk_create(
        [Assignment(access_package=world.package, policy=world.policy, target=person,
                    state=AssignmentState.DELIVERED, start_at=now, created_at=now)
         for person in people])
    decisions = ReviewDecision.objects.bulk_create([
        ReviewDecision(review=review, assignment=assignment, principal=assignment.target,
                       recommendation=ReviewRecommendation.DENY if n % 2
                       else ReviewRecommendation.APPROVE,
                       recommendation_reason=INACTIVE if n % 2 else "Signed in recently")
        for n, assignment in enumerate(assignments)])
    if flags.get("isSelfReview"):
        DecisionReviewer.objects.bulk_create(
            [DecisionReviewer(decision=decision, user=decision.principal)
             for decision in decisions])
    else:
        ReviewReviewer.objects.create(review=review, user=reviewer or world.approver)
    return review, decisions


def _guests(world, count, start=0):
    return [GuestFactory(email=f"guest{n:04}@contoso.example", display_name=f"Guest {n:04}",
                         connected_organization=world.organization)
            for n in range(start, start + count)]


@pytest.fixture
def two(world):
    """A review of the requester and a member, for the approver."""
    world.requester.display_name = "Robin Requester"
    world.requester.save()
    return _review(world, [world.requester, world.member])


def _decision_url(review, decision):
    return reverse("review_decide", args=[review.pk, decision.pk])


def _rows(review):
    return list(review.decisions.order_by("id").values(
        "id", "decision", "justification", "reviewed_by_id", "reviewed_at"))


def test_list_shows_the_pending_reviews_with_what_is_left(as_user, world, two):
    review, (first, _) = two
    response = as_user(world.approver).get(reverse("reviews"))
    page = response.content.decode()
    assert 'aria-current="page">Access reviews</a>' in page and "Falcon collaboration" in page
    assert reverse("review_detail", args=[review.pk]) in page
    assert "2 of 2 to review" in page
    as_user(world.approver).post(_decision_url(review, first), {
        f"decision-{first.pk}-decision": "Approve"})
    assert "1 of 2 to review" in as_user(world.approver).get(reverse("reviews")).content.decode()


def test_review_pages_ask_anonymous_people_to_sign_in(client, world, two):
    review, (first, _) = two
    before = _rows(review)
    for url in (reverse("reviews"), reverse("review_detail", args=[review.pk])):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/?next=")
    assert client.post(_decision_url(review, first), {
        f"decision-{first.pk}-decision": "Deny"}).status_code == 302
    assert _rows(review) == before


def test_list_is_empty_for_someone_with_nothing_to_review(as_user, world, two):
    page = as_user(world.outsider).get(reverse("reviews")).content.decode()
    assert "Nothing waits for your review." in page
    assert "Falcon collaboration" not in page


def test_detail_shows_each_person_with_the_recommendation(as_user, world, two):
    review, (first, second) = two
    response = as_user(world.approver).get(reverse("review_detail", args=[review.pk]))
    assert response.status_code == 200
    page = response.content.decode()
    for shown in ("Robin Requester", "requester@contoso.example", "Contoso",
                  "member@access.example", "Member of the organization",
                  f"Recommended: <strong>Deny</strong> — {INACTIVE}",
                  "Recommended: <strong>Approve</strong> — Signed in recently",
                  "Approve", "Deny", "Don&#x27;t know", "Justification", "Submit",
                  "Accept recommendations", "Accept all recommendations"):
        assert shown in page, shown
    # Real labels, one set per person.
    assert f'<label for="id_decision-{first.pk}-justification">Justification</label>' in page
    assert f'id="id_decision-{second.pk}-decision_1"' in page


def test_detail_and_its_posts_are_404_for_anyone_without_decisions_in_it(as_user, world, two):
    review, (first, _) = two
    before = _rows(review)
    for person in (world.outsider, world.owner, world.second_approver):
        client = as_user(person)
        assert client.get(reverse("review_detail", args=[review.pk])).status_code == 404
        assert client.post(_decision_url(review, first), {
            f"decision-{first.pk}-decision": "Deny"}).status_code == 404
        assert client.post(reverse("review_accept", args=[review.pk]),
                           {"all": "1"}).status_code == 404
    assert as_user(world.approver).get(reverse("review_detail", args=[999999])).status_code \
        == 404
    assert _rows(review) == before


def test_a_decision_outside_the_reviewers_scope_is_404_and_changes_nothing(as_user, world,
                                                                           two):
    review, (first, _) = two
    other_review, (elsewhere,) = _review(world, [world.outsider], reviewer=world.owner)
    client = as_user(world.approver)
    before = (_rows(review), _rows(other_review))
    # Someone else's decision, whether named under its own review or under this one.
    for url in (_decision_url(other_review, elsewhere), _decision_url(review, elsewhere)):
        assert client.post(url, {f"decision-{elsewhere.pk}-decision": "Deny"}).status_code \
            == 404
    assert client.post(reverse("review_accept", args=[review.pk]),
                       {"decision": [first.pk, elsewhere.pk]}).status_code == 404
    assert (_rows(review), _rows(other_review)) == before


def test_a_reviewer_decides_and_changes_the_decision(as_user, world, two):
    review, (first, _) = two
    client = as_user(world.approver)
    response = client.post(_decision_url(review, first), {
        f"decision-{first.pk}-decision": "Deny",
        f"decision-{first.pk}-justification": "Left the Falcon project"})
    assert response.status_code == 302
    assert response["Location"] == reverse("review_detail", args=[review.pk]) \
        + f"#decision-{first.pk}"
    first.refresh_from_db()
    assert (first.decision, first.justification, first.reviewed_by) == (
        ReviewDecisionValue.DENY, "Left the Falcon project", world.approver)
    page = client.get(response["Location"]).content.decode()
    assert "You chose Deny for Robin Requester." in page
    assert "Decision: <strong>Deny</strong>" in page and "“Left the Falcon project”" in page
    # The form starts from what was decided, and the decision can still change.
    assert f'value="Deny" id="id_decision-{first.pk}-decision_1" required checked' in page
    assert "Left the Falcon project</textarea>" in page
    # Answered: no longer offered for Accept recommendations.
    assert f'value="{first.pk}" form="accept-recommendations"' not in page

    client.post(_decision_url(review, first), {f"decision-{first.pk}-decision": "DontKnow"})
    first.refresh_from_db()
    assert first.decision == ReviewDecisionValue.DONT_KNOW


def test_a_required_justification_shows_beside_the_field_and_keeps_the_choice(as_user, world):
    review, (first, second) = _review(world, [world.requester, world.member],
                                      isReviewerJustificationRequired=True)
    client = as_user(world.approver)
    assert "A justification is required." in client.get(
        reverse("review_detail", args=[review.pk])).content.decode()
    response = client.post(_decision_url(review, second), {
        f"decision-{second.pk}-decision": "Deny",
        f"decision-{second.pk}-justification": "  "})
    assert response.status_code == 400
    page = response.content.decode()
    assert (f'<p class="error" id="id_decision-{second.pk}-justification_error">This review '
            "asks for a justification with every decision.</p>") in page
    assert "The decision for Member was not recorded: see below." in page
    # What was chosen stays chosen.
    assert f'value="Deny" id="id_decision-{second.pk}-decision_1" required checked' in page
    second.refresh_from_db()
    assert second.decision == ReviewDecisionValue.NOT_REVIEWED


def test_no_choice_is_an_error_beside_the_question(as_user, world, two):
    review, (first, _) = two
    response = as_user(world.approver).post(_decision_url(review, first), {
        f"decision-{first.pk}-justification": "Typed, then forgot to choose"})
    assert response.status_code == 400
    page = response.content.decode()
    assert "Choose Approve, Deny or Don&#x27;t know." in page
    assert "Typed, then forgot to choose" in page


def test_accept_recommendations_for_the_people_selected_then_for_all(as_user, world):
    guests = _guests(world, 4)
    review, decisions = _review(world, guests)
    client = as_user(world.approver)
    response = client.post(reverse("review_accept", args=[review.pk]),
                           {"decision": [decisions[0].pk, decisions[1].pk]})
    assert response.status_code == 302
    values = dict(review.decisions.values_list("id", "decision"))
    assert [values[d.pk] for d in decisions] == ["Approve", "Deny", "NotReviewed",
                                                 "NotReviewed"]
    assert "You accepted the recommendations for 2 people." in client.get(
        response["Location"]).content.decode()

    client.post(reverse("review_accept", args=[review.pk]), {"all": "1"})
    values = dict(review.decisions.values_list("id", "decision"))
    assert [values[d.pk] for d in decisions] == ["Approve", "Deny", "Approve", "Deny"]


def test_accept_recommendations_with_nobody_selected_says_so(as_user, world, two):
    review, _ = two
    before = _rows(review)
    response = as_user(world.approver).post(reverse("review_accept", args=[review.pk]),
                                            {"selected": "1"}, follow=True)
    assert "Select the people whose recommendations you accept" in response.content.decode()
    assert _rows(review) == before


def test_self_review_asks_whether_the_person_still_needs_access(as_user, world):
    review, (own, _) = _review(world, [world.requester, world.member], isSelfReview=True)
    client = as_user(world.requester)
    page = client.get(reverse("review_detail", args=[review.pk])).content.decode()
    assert "Do you still need access to Falcon collaboration?" in page
    assert f'value="Approve" id="id_decision-{own.pk}-decision_0" required> Yes</label>' in page
    assert f'value="Deny" id="id_decision-{own.pk}-decision_1" required> No</label>' in page
    assert "Don&#x27;t know" not in page and "Accept all recommendations" not in page
    assert "member@access.example" not in page  # only their own access

    response = client.post(_decision_url(review, own), {
        f"decision-{own.pk}-decision": "Deny",
        f"decision-{own.pk}-justification": "The project ended"}, follow=True)
    assert "you no longer need access to “Falcon collaboration”" in response.content.decode()
    own.refresh_from_db()
    assert (own.decision, own.reviewed_by) == (ReviewDecisionValue.DENY, world.requester)


def test_a_review_that_ended_is_read_only(as_user, world):
    review, (first, second) = _review(world, [world.requester, world.member])
    ReviewDecision.objects.filter(pk=first.pk).update(
        decision=ReviewDecisionValue.APPROVE, justification="Still on Falcon",
        reviewed_by=world.approver, reviewed_at=clock.now())
    AccessReview.objects.filter(pk=review.pk).update(state=ReviewState.COMPLETED,
                                                     completed_at=clock.now())
    client = as_user(world.approver)
    page = client.get(reverse("review_detail", args=[review.pk])).content.decode()
    assert "This review has ended" in page
    assert "Decision: <strong>Approve</strong>" in page and "“Still on Falcon”" in page
    assert "Decision: <strong>Not reviewed</strong>" in page
    assert "Submit" not in page and "Accept recommendations" not in page
    assert "Falcon collaboration" not in client.get(reverse("reviews")).content.decode()

    before = _rows(review)
    response = client.post(_decision_url(review, second),
                           {f"decision-{second.pk}-decision": "Deny"})
    assert response.status_code == 400
    assert "decisions can no longer change" in response.content.decode()
    assert _rows(review) == before


def test_a_large_review_is_paged_fifty_at_a_time(as_user, world):
    review, decisions = _review(world, _guests(world, 60))
    client = as_user(world.approver)
    first_page = client.get(reverse("review_detail", args=[review.pk])).content.decode()
    assert first_page.count("<article") == 50 and "Page 1 of 2" in first_page
    second_page = client.get(reverse("review_detail", args=[review.pk]) + "?page=2")
    assert second_page.content.decode().count("<article") == 10
    # A decision on page 2 comes back to page 2.
    last = decisions[-1]
    response = client.post(_decision_url(review, last) + "?page=2",
                           {f"decision-{last.pk}-decision": "Approve"})
    assert response["Location"].endswith(f"?page=2#decision-{last.pk}")


def _queries(client, url) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured)


# Session, user, then the page's own: the list in one query; the detail page counts, reads
# one page of people (with their organisations and reviewers) and the review; the Overview
# one query per section.
LIST_QUERIES, DETAIL_QUERIES, OVERVIEW_QUERIES = 3, 5, 7


def test_review_pages_cost_the_same_with_10_and_200_people(as_user, world):
    review, _ = _review(world, _guests(world, 10))
    ReviewDecision.objects.filter(review=review).update(
        decision=ReviewDecisionValue.APPROVE, reviewed_by=world.approver,
        reviewed_at=clock.now(), justification="Fine")
    client = as_user(world.approver)
    urls = (reverse("reviews"), reverse("review_detail", args=[review.pk]), reverse("overview"))
    with_10 = [_queries(client, url) for url in urls]
    more = _guests(world, 190, start=10)
    now = clock.now()
    assignments = Assignment.objects.bulk_create(
        [Assignment(access_package=world.package, policy=world.policy, target=person,
                    state=AssignmentState.DELIVERED, start_at=now, created_at=now)
         for person in more])
    ReviewDecision.objects.bulk_create(
        [ReviewDecision(review=review, assignment=assignment, principal=assignment.target,
                        recommendation=ReviewRecommendation.DENY,
                        recommendation_reason=INACTIVE) for assignment in assignments])
    _review(world, [UserFactory(email="another@access.example")])  # a second review
    with_200 = [_queries(client, url) for url in urls]
    assert review.decisions.count() == 200
    assert "190 of 200 to review" in client.get(reverse("overview")).content.decode()
    expected = [LIST_QUERIES, DETAIL_QUERIES, OVERVIEW_QUERIES]
    assert (with_10, with_200) == (expected, expected)
