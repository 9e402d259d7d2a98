"""Access reviews in the delegated admin: the catalog's owner follows its reviews (progress,
decisions, the results as CSV) and applies a completed review's results; a reader only reads;
nothing of another catalog (Finance, its package Ledger) shows or changes. A policy's review
settings are form fields whose refusals show beside them, with nothing saved."""

import csv
import io
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from governance.choices import (
    AssignmentState,
    ReviewAppliedResult,
    ReviewDecisionValue,
    ReviewerType,
    ReviewExpirationBehavior,
    ReviewRecommendation,
    ReviewRecurrence,
    ReviewState,
)
from governance.models import AccessReview, Assignment, AuditEvent, ReviewDecision
from governance.models.review_settings import Reviewer, ReviewSettings
from governance.selectors.reviews import RESULT_COLUMNS
from governance.services.policies import policy_save
from governance.services.policy_spec import PolicySpec
from tests.factories import PackageFactory, PolicyFactory, UserFactory
from tests.pages.test_extensions_admin import policy_data

FIRST = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
REVIEWS = "admin:governance_accessreview"
POLICIES = "admin:governance_assignmentpolicy"
OTHER = "Ledger"  # only the other catalog's objects carry it


def graph(**changes) -> dict:
    return ReviewSettings(is_enabled=True, recurrence=ReviewRecurrence.QUARTERLY,
                          start_at=FIRST, is_self_review=True, auto_apply=False,
                          **changes).to_graph()


def make_review(policy, answers, *, state=ReviewState.COMPLETED, start=FIRST) -> AccessReview:
    """A review of `policy` with a decision per (person, decision, fields) in `answers`."""
    end = start + timedelta(days=14)
    review = AccessReview.objects.create(
        policy=policy, access_package=policy.access_package, settings=graph(), start_at=start,
        end_at=end, state=state, created_at=start,
        completed_at=None if state == ReviewState.IN_PROGRESS else end)
    for person, decision, fields in answers:
        assignment = Assignment.objects.create(
            access_package=policy.access_package, policy=policy, target=person,
            state=AssignmentState.DELIVERED, start_at=FIRST - timedelta(days=90),
            created_at=FIRST - timedelta(days=90))
        ReviewDecision.objects.create(review=review, assignment=assignment, principal=person,
                                      decision=decision, **fields)
    return review


@pytest.fixture
def review(world, people):
    """Projects' completed review of three people: approved, denied, unanswered."""
    reviewed_at = FIRST + timedelta(days=2)
    return make_review(world.policy, [
        (UserFactory(email="ann@access.example", display_name="Ann Able"),
         ReviewDecisionValue.APPROVE,
         {"reviewed_by": world.approver, "reviewed_at": reviewed_at,
          "justification": "Still on Falcon", "recommendation": ReviewRecommendation.APPROVE,
          "recommendation_reason": "Signed in 2 days ago"}),
        (UserFactory(email="bob@access.example", display_name="Bob Brown"),
         ReviewDecisionValue.DENY,
         {"reviewed_by": world.approver, "reviewed_at": reviewed_at,
          "justification": "Left the project", "recommendation": ReviewRecommendation.DENY,
          "recommendation_reason": "Not signed in for 45 days"}),
        (UserFactory(email="cid@access.example", display_name="Cid Calm"),
         ReviewDecisionValue.NOT_REVIEWED, {}),
    ])


@pytest.fixture
def other_review(people):
    package = PackageFactory(catalog=people.other_catalog, display_name=f"{OTHER} access")
    policy = PolicyFactory(access_package=package, display_name=f"{OTHER} policy")
    person = UserFactory(email="zed@access.example", display_name=f"Zed {OTHER}keeper")
    return make_review(policy, [(person, ReviewDecisionValue.DENY,
                                 {"justification": f"{OTHER} justification"})])


def url(name: str, obj=None) -> str:
    return reverse(f"{REVIEWS}_{name}", args=[obj.pk] if obj else None)


def text(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def test_owners_see_their_catalogs_reviews_with_progress(world, as_user, review,
                                                         other_review):
    client = as_user(world.owner)
    listed = text(client.get(url("changelist")))
    assert "Falcon collaboration" in listed and "Reviewed 2 of 3" in listed
    assert "Completed, results not applied yet" in listed and "5 Jan 2026 – 19 Jan 2026" in listed
    assert OTHER not in listed and OTHER not in text(client.get(url("changelist") + "?q=ledg"))
    assert "Reviewed 2 of 3" in text(client.get(url("changelist") + "?o=-6"))  # by progress

    page = text(client.get(url("change", review)))
    for shown in ("Quarterly", "Each person themselves", "Applied by an owner", "Ann Able",
                  "Still on Falcon", "Signed in 2 days ago", "Not signed in for 45 days",
                  "Denied (1)", "Not reviewed (1)", "Export results (CSV)"):
        assert shown in page, shown
    denied = text(client.get(url("change", review) + "?decision=Deny"))
    assert "Bob Brown" in denied and "Ann Able" not in denied
    found = text(client.get(url("change", review) + "?q=cid"))
    assert "Cid Calm" in found and "Bob Brown" not in found


def test_the_list_takes_the_same_queries_for_more_reviews(world, as_user, review):
    client = as_user(world.owner)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            text(client.get(url("changelist")))
        return len(captured)

    first = queries()
    for days in (91, 182, 273):
        make_review(world.policy, [], start=FIRST + timedelta(days=days))
    assert queries() == first


def test_another_catalogs_reviews_are_out_of_reach(world, as_user, people, review,
                                                  other_review):
    client = as_user(world.owner)
    for response in (client.get(url("change", other_review)),
                     client.get(url("export", other_review)),
                     client.post(url("apply", other_review)),
                     client.get(url("change", other_review) + "?decision=Deny")):
        assert response.status_code in {302, 404}
        assert OTHER not in response.content.decode()
    other_review.refresh_from_db()
    assert other_review.state == ReviewState.COMPLETED
    assert not ReviewDecision.objects.filter(review=other_review).exclude(
        applied_result="").exists()
    # And the other catalog's owner sees nothing of Projects.
    response = as_user(people.other_owner).get(url("change", review))
    assert response.status_code in {302, 404} and "Ann Able" not in response.content.decode()


def test_the_csv_has_a_header_and_one_row_per_decision(world, as_user, review, other_review):
    response = as_user(world.owner).get(url("export", review))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0] == list(RESULT_COLUMNS)
    assert len(rows) == 1 + 3
    by_email = {row[1]: row for row in rows[1:]}
    assert by_email["bob@access.example"] == [
        "Bob Brown", "bob@access.example", "Deny", world.approver.email,
        (FIRST + timedelta(days=2)).isoformat(), "Left the project", "Deny",
        "Not signed in for 45 days", "", ""]
    assert by_email["cid@access.example"][2:5] == ["NotReviewed", "", ""]
    assert OTHER not in response.content.decode()


def test_apply_results_applies_and_then_the_button_is_gone(world, as_user, review):
    client = as_user(world.owner)
    assert "Apply results</button>" in text(client.get(url("change", review)))
    response = client.post(url("apply", review), follow=True)
    page = text(response)
    assert "Results applied: 2 kept, 1 removed" in page
    assert "Apply results</button>" not in page
    review.refresh_from_db()
    assert review.state == ReviewState.APPLIED and review.applied_at is not None
    results = dict(review.decisions.values_list("principal__email", "applied_result"))
    assert results == {"ann@access.example": ReviewAppliedResult.KEPT,
                       "bob@access.example": ReviewAppliedResult.REMOVED,
                       "cid@access.example": ReviewAppliedResult.KEPT}  # keepAccess
    assert not Assignment.objects.get(target__email="bob@access.example").is_active
    assert AuditEvent.objects.filter(action="review.applied", actor=world.owner).count() == 1
    # Applying again is refused in words, and changes nothing.
    again = text(client.post(url("apply", review), follow=True))
    assert "were applied on" in again


def test_a_review_in_progress_has_no_apply_button(world, as_user):
    review = make_review(world.policy, [(world.member, ReviewDecisionValue.NOT_REVIEWED, {})],
                         state=ReviewState.IN_PROGRESS)
    client = as_user(world.owner)
    assert "Apply results</button>" not in text(client.get(url("change", review)))
    assert "in progress until" in text(client.post(url("apply", review), follow=True))
    assert AccessReview.objects.get(pk=review.pk).state == ReviewState.IN_PROGRESS


def test_catalog_readers_read_but_cannot_apply(as_user, people, review):
    client = as_user(people.reader)
    page = text(client.get(url("change", review)))
    assert "Ann Able" in page and "Export results (CSV)" in page
    assert "Apply results</button>" not in page and 'name="_save"' not in page
    assert client.get(url("export", review)).status_code == 200
    assert client.post(url("apply", review)).status_code == 403
    assert AccessReview.objects.get(pk=review.pk).state == ReviewState.COMPLETED
    # Those who manage assignments may apply.
    manager_page = text(as_user(people.assignment_manager).get(url("change", review)))
    assert "Apply results</button>" in manager_page


# The policy's review settings in its form.


def review_post(page, **fields) -> dict:
    """The policy form as shown, with reviews on, the first on 2 February 2026 09:00."""
    data = policy_data(page) | {
        "review_enabled": "on", "review_recurrence": ReviewRecurrence.MONTHLY,
        "review_start_0": "2026-02-02", "review_start_1": "09:00",
        "review_duration_days": "10", "review_primary_kinds": [ReviewerType.MANAGER],
        "review_expiration_behavior": ReviewExpirationBehavior.REMOVE_ACCESS}
    data.pop("review_auto_apply", None)
    data.pop("review_start", None)
    return data | fields


def test_the_policy_form_saves_review_settings(world, as_user):
    client = as_user(world.owner)
    change = reverse(f"{POLICIES}_change", args=[world.policy.pk])
    data = review_post(client.get(change), review_fallback_users=[world.approver.pk],
                       review_justification_required="on")
    response = client.post(change, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    world.policy.refresh_from_db()
    start = timezone.make_aware(datetime(2026, 2, 2, 9, 0))
    assert world.policy.review_settings == ReviewSettings(
        is_enabled=True, recurrence=ReviewRecurrence.MONTHLY, start_at=start,
        duration=timedelta(days=10), primary=(Reviewer(ReviewerType.MANAGER),),
        fallback=(Reviewer(ReviewerType.SINGLE_USER, user_id=world.approver.pk),),
        is_justification_required=True, is_recommendation_enabled=True,
        expiration_behavior=ReviewExpirationBehavior.REMOVE_ACCESS,
        auto_apply=False).to_graph()
    event = AuditEvent.objects.filter(action="policy.changed").latest("id")
    assert event.after["reviewSettings"] == world.policy.review_settings

    form = client.get(change).context["adminform"].form
    assert (form.initial["review_enabled"], form.initial["review_recurrence"],
            form.initial["review_duration_days"], form.initial["review_fallback_users"],
            form.initial["review_primary_kinds"], form.initial["review_auto_apply"]) == (
        True, ReviewRecurrence.MONTHLY, 10, [world.approver.pk], [ReviewerType.MANAGER], False)


@pytest.mark.parametrize(("case", "fields", "field", "words"), [
    ("longer than a quarter", {"review_recurrence": ReviewRecurrence.QUARTERLY,
                               "review_duration_days": "100"},
     "review_duration_days", "can last at most 89 days"),
    ("nobody reviews", {"review_primary_kinds": []}, "review_primary_kinds",
     "Say who reviews"),
    ("no start", {"review_start_0": "", "review_start_1": ""}, "review_start",
     "date and time of the first review"),
])
def test_bad_review_settings_are_refused_beside_their_field(world, as_user, case, fields,
                                                            field, words):
    client = as_user(world.owner)
    change = reverse(f"{POLICIES}_change", args=[world.policy.pk])
    events = AuditEvent.objects.count()
    response = client.post(change, review_post(client.get(change), **fields))
    assert response.status_code == 200
    form = response.context["adminform"].form
    assert any(words in error for error in form.errors.get(field, [])), form.errors
    assert form["review_recurrence"].value() == fields.get("review_recurrence",
                                                           ReviewRecurrence.MONTHLY)
    assert form["review_duration_days"].value() == fields.get("review_duration_days", "10")
    world.policy.refresh_from_db()
    assert world.policy.review_settings == {}
    assert AuditEvent.objects.count() == events


def test_a_missing_start_and_a_bad_duration_show_together(world, as_user):
    client = as_user(world.owner)
    change = reverse(f"{POLICIES}_change", args=[world.policy.pk])
    response = client.post(change, review_post(client.get(change), review_start_0="",
                                               review_start_1="", review_duration_days="40"))
    errors = response.context["adminform"].form.errors
    assert "Give the date and time of the first review." in errors["review_start"]
    assert "A monthly review can last at most 28 days" in errors["review_duration_days"][0]


def test_readers_see_the_review_settings_in_words(world, as_user, people):
    world.policy.review_settings = graph(primary=(Reviewer(ReviewerType.SINGLE_USER,
                                                           user_id=world.approver.pk),))
    world.policy.save(update_fields=["review_settings"])
    page = text(as_user(people.reader).get(reverse(f"{POLICIES}_change",
                                                   args=[world.policy.pk])))
    assert "Quarterly, from" in page and str(world.approver) in page
    assert 'name="review_enabled"' not in page


def test_policy_save_stores_the_settings_as_read_back(world):
    spec = PolicySpec(display_name="Contoso partners",
                      allowed_target_scope=world.policy.allowed_target_scope,
                      specific_connected_organizations=[world.organization],
                      is_approval_required_for_add=False)

    def save(review_settings):
        return policy_save(actor=world.owner, policy_id=world.policy.pk,
                           access_package_id=world.package.pk,
                           spec=replace(spec, review_settings=review_settings))

    saved = save(graph() | {"unknownKey": 1})
    assert saved.review_settings == graph()
    off = save(graph() | {"isEnabled": False})
    assert off.review_settings == {}
