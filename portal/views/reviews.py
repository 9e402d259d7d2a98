"""Access reviews: the reviews waiting for this person, and per person in their scope
Approve, Deny or Don't know with a Justification, or the recommendations accepted at once.

A review in which the person has nothing to review answers 404, as any object they may not
see. Only a POST decides; a refusal of the review service shows beside the field it names,
with what was typed kept."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from governance import clock
from governance.choices import ReviewDecisionValue, ReviewState
from governance.models import AccessReview
from governance.models.review_settings import review_settings_from_graph
from governance.selectors.reviews import decisions_for_reviewer, reviews_for_reviewer
from governance.services import reviews as review_services
from governance.services.errors import Refused
from portal.forms_reviews import ReviewDecisionForm
from portal.views.page import render_page

PAGE_SIZE = 50


@login_required
def review_list(request):
    return render_page(request, "reviews", "portal/reviews.html",
                       {"reviews": reviews_for_reviewer(request.user)})


def _decisions(request, review_id: int):
    return decisions_for_reviewer(request.user, review_id)


def _page_url(review_id: int, page_number, anchor: str = "") -> str:
    url = reverse("review_detail", args=[review_id])
    if str(page_number or "1") != "1":
        url += f"?page={page_number}"
    return url + (f"#{anchor}" if anchor else "")


def _detail(request, review_id: int, bound: ReviewDecisionForm | None = None, status=200):
    """The review's people on this page, each with their form (`bound` replaces one)."""
    page = Paginator(_decisions(request, review_id), PAGE_SIZE) \
        .get_page(request.GET.get("page"))
    if not page.paginator.count:
        raise Http404("Nothing to review here.")
    review = AccessReview.objects.select_related("access_package").get(pk=review_id)
    settings = review_settings_from_graph(review.settings)
    is_open = review.state == ReviewState.IN_PROGRESS and review.end_at > clock.now()
    # A self-review: the only decision this person sees is about their own access.
    self_review = settings.is_self_review and page.paginator.count == 1 \
        and page[0].principal_id == request.user.pk
    rows = []
    for decision in page:
        if bound is not None and bound.row.pk == decision.pk:
            form = bound
        else:
            form = ReviewDecisionForm(decision=decision, self_review=self_review,
                                      package=review.access_package,
                                      justification_required=settings.is_justification_required)
        rows.append((decision, form))
    return render_page(request, "reviews", "portal/review_detail.html", {
        "review": review, "page": page, "rows": rows, "is_open": is_open,
        "self_review": self_review, "has_recommendations": settings.is_recommendation_enabled,
        "justification_required": settings.is_justification_required,
        "refused": bound.row.principal if bound is not None and bound.errors else None,
    }, status=status)


@login_required
def review_detail(request, review_id: int):
    return _detail(request, review_id)


@login_required
@require_POST
def review_decide(request, review_id: int, decision_id: int):
    """One person's Approve, Deny or Don't know; the page again with the error when refused."""
    decision = _decisions(request, review_id).select_related("review__access_package") \
        .filter(pk=decision_id).first()
    if decision is None:
        raise Http404("Nothing to review here.")
    review = decision.review
    settings = review_settings_from_graph(review.settings)
    self_review = settings.is_self_review and decision.principal_id == request.user.pk
    form = ReviewDecisionForm(request.POST, decision=decision, self_review=self_review,
                              package=review.access_package,
                              justification_required=settings.is_justification_required)
    if form.is_valid():
        try:
            review_services.review_decide(
                reviewer=request.user, decision_id=decision.pk,
                decision=form.cleaned_data["decision"],
                justification=form.cleaned_data["justification"])
        except Refused as refusal:
            form.add_refusal(refusal)
        else:
            messages.success(request, _decided(form.cleaned_data["decision"], decision,
                                               review, self_review))
            return redirect(_page_url(review_id, request.GET.get("page"),
                                      f"decision-{decision.pk}"))
    return _detail(request, review_id, bound=form, status=400)


def _decided(value: str, decision, review: AccessReview, self_review: bool) -> str:
    if self_review:
        needed = "still need" if value == ReviewDecisionValue.APPROVE else "no longer need"
        return f"Your answer was recorded: you {needed} access to “{review.access_package}”."
    return f"You chose {ReviewDecisionValue(value).label} for {decision.principal}."


@login_required
@require_POST
def review_accept(request, review_id: int):
    """Accept recommendations: for the people selected, or (Accept all) for everyone this
    person reviews in the review."""
    decisions = _decisions(request, review_id)
    back = _page_url(review_id, request.GET.get("page"))
    if "all" in request.POST:
        if not decisions.exists():
            raise Http404("Nothing to review here.")
        chosen = None
    else:
        try:
            chosen = sorted({int(value) for value in request.POST.getlist("decision")})
        except ValueError:
            raise Http404("Nothing to review here.") from None
        # Someone outside this person's scope, or nobody at all: as if the review were not there.
        if not decisions.exists() or decisions.filter(pk__in=chosen).count() != len(chosen):
            raise Http404("Nothing to review here.")
        if not chosen:
            messages.error(request, "Select the people whose recommendations you accept, or "
                                    "press Accept all recommendations.")
            return redirect(back)
    try:
        count = review_services.review_accept_recommendations(
            reviewer=request.user, review_id=review_id, decision_ids=chosen)
    except Refused as refusal:
        messages.error(request, refusal.message)
    else:
        if count:
            people = "1 person" if count == 1 else f"{count} people"
            messages.success(request, f"You accepted the recommendations for {people}.")
        else:
            messages.error(request, "There was no recommendation to accept.")
    return redirect(back)
