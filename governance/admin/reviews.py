"""Access reviews in the admin: owners follow each review's progress and results.

Every catalog role reads its catalogs' reviews; nothing is edited here. A review's page shows
its settings in words and its decisions a page at a time, filtered by decision; the results
download as CSV (governance.selectors.reviews.review_results). A completed review whose
settings leave its results to people is applied with `review_apply`, which those who manage
the catalog's assignments may call.
"""

from django.contrib import admin, messages
from django.contrib.admin import RelatedOnlyFieldListFilter
from django.contrib.admin.utils import unquote
from django.core.paginator import Paginator
from django.db.models import Count, IntegerField, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.http import urlencode

from governance import clock
from governance.admin.assignments import ActingAdmin
from governance.admin.builder import catalog_filter
from governance.admin.csv_export import csv_response
from governance.admin.review_settings_form import settings_summary
from governance.admin.site import admin_site
from governance.choices import ReviewDecisionValue, ReviewState
from governance.models import AccessReview, ReviewDecision, User
from governance.selectors.reviews import RESULT_COLUMNS, review_counts, review_results
from governance.services.errors import Refused
from governance.services.reviews import review_apply

DECISIONS_PER_PAGE = 100
REVIEWERS_SHOWN = 20
# The decision filter's choices: (value, words, key in review_counts).
DECISION_FILTERS = [
    ("", "All", "total"),
    (ReviewDecisionValue.APPROVE, "Approved", "approved"),
    (ReviewDecisionValue.DENY, "Denied", "denied"),
    (ReviewDecisionValue.DONT_KNOW, "Don't know", "dontKnow"),
    (ReviewDecisionValue.NOT_REVIEWED, "Not reviewed", "notReviewed"),
]


def _day(moment) -> str:
    return date_format(timezone.localtime(moment), "j M Y")


def _count(decisions) -> Coalesce:
    counted = decisions.filter(review_id=OuterRef("pk")).order_by().values("review_id") \
        .annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


@admin.register(AccessReview, site=admin_site)
class AccessReviewAdmin(ActingAdmin):
    actions = None
    list_display = ["access_package", "policy", "catalog", "period", "state_column",
                    "progress"]
    list_filter = [catalog_filter("access_package__catalog_id"), "state",
                   ("access_package", RelatedOnlyFieldListFilter)]
    list_select_related = ["access_package__catalog", "policy"]
    search_fields = ["access_package__display_name", "policy__display_name"]
    search_help_text = "Search by the access package's or the policy's name."
    show_full_result_count = False
    fields = ["access_package", "policy", "period", "state_column", "progress",
              "settings_column", "reviewers_column", "created_at", "reminded_at",
              "completed_at", "applied_at"]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def get_queryset(self, request):
        # Counted per review shown, not by grouping every decision of every review in scope.
        decisions = ReviewDecision.objects.all()
        return super().get_queryset(request).annotate(
            decision_total=_count(decisions),
            reviewed_total=_count(decisions.exclude(
                decision=ReviewDecisionValue.NOT_REVIEWED)))

    @admin.display(description="Catalog", ordering="access_package__catalog__display_name")
    def catalog(self, review: AccessReview):
        return review.access_package.catalog

    @admin.display(description="Period", ordering="start_at")
    def period(self, review: AccessReview) -> str:
        return f"{_day(review.start_at)} – {_day(review.end_at)}"

    @admin.display(description="State", ordering="state")
    def state_column(self, review: AccessReview) -> str:
        if review.state == ReviewState.COMPLETED:
            return "Completed, results not applied yet"
        if review.state == ReviewState.APPLIED:
            return f"Results applied on {_day(review.applied_at)}"
        if review.end_at <= clock.now():
            return "Ending"
        return f"In progress until {_day(review.end_at)}"

    @admin.display(description="Progress", ordering="reviewed_total")
    def progress(self, review: AccessReview) -> str:
        return f"Reviewed {review.reviewed_total} of {review.decision_total}"

    @admin.display(description="Settings")
    def settings_column(self, review: AccessReview) -> str:
        return settings_summary(review.settings)

    @admin.display(description="Reviewers of everyone")
    def reviewers_column(self, review: AccessReview) -> str:
        people = User.objects.filter(pk__in=review.reviewers.values("user_id")).order_by(
            "display_name", "email")
        names = [str(person) for person in people[:REVIEWERS_SHOWN + 1]]
        if not names:
            return "None: each person's own reviewers (see the decisions)"
        if len(names) > REVIEWERS_SHOWN:
            more = people.count() - REVIEWERS_SHOWN
            return f"{', '.join(names[:REVIEWERS_SHOWN])} and {more} more"
        return ", ".join(names)

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("<path:object_id>/export/", wrap(self.export_view),
                 name=self._url_name("export")),
            path("<path:object_id>/apply/", wrap(self.apply_view),
                 name=self._url_name("apply")),
            *super().get_urls(),
        ]

    # The decisions, a page at a time, below the review's fields.

    def _decisions(self, request, review: AccessReview) -> dict:
        counts = review_counts(review.pk)
        chosen = request.GET.get("decision", "")
        if chosen not in ReviewDecisionValue.values:
            chosen = ""
        search = request.GET.get("q", "").strip()
        rows = (ReviewDecision.objects.filter(review=review)
                .select_related("principal", "reviewed_by")
                .order_by("principal__display_name", "principal__email", "id"))
        if chosen:
            rows = rows.filter(decision=chosen)
        if search:
            rows = rows.filter(Q(principal__display_name__icontains=search)
                               | Q(principal__email__icontains=search))
        page = Paginator(rows, DECISIONS_PER_PAGE).get_page(request.GET.get("page"))

        def url(**changes) -> str:
            query = {"decision": chosen, "q": search} | changes
            return "?" + urlencode({name: value for name, value in query.items() if value})

        return {
            "decision_filters": [(url(decision=value), words, counts[key], value == chosen)
                                 for value, words, key in DECISION_FILTERS],
            "decision_search": search, "decision_chosen": chosen, "decision_page": page,
            "decision_previous": url(page=page.previous_page_number())
            if page.has_previous() else "",
            "decision_next": url(page=page.next_page_number()) if page.has_next() else "",
        }

    def change_view(self, request, object_id, form_url="", extra_context=None):
        review = self.get_object(request, unquote(object_id))
        extra = {}
        if review is not None and self.has_view_permission(request, review):
            extra = {**self._decisions(request, review),
                     "can_apply": review.state == ReviewState.COMPLETED}
        return super().change_view(request, object_id, form_url,
                                   {**extra, **(extra_context or {})})

    # The results as CSV, and applying them.

    def export_view(self, request, object_id):
        review = self.get_object(request, unquote(object_id))
        if review is None or not self.has_view_permission(request, review):
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        stamp = timezone.localtime(clock.now()).strftime("%Y-%m-%d-%H%M")
        return csv_response(f"access-review-{review.pk}-{stamp}.csv", list(RESULT_COLUMNS),
                            review_results(review))

    def apply_view(self, request, object_id):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        review, redirect = self._object_or_redirect(request, object_id)
        if redirect:
            return redirect
        try:
            counts = review_apply(review_id=review.pk, actor=request.user)
        except Refused as refusal:
            messages.error(request, refusal.message)
        else:
            messages.success(request, f"Results applied: {counts['kept']} kept, "
                                      f"{counts['removed']} removed, {counts['alreadyEnded']} "
                                      "had already ended.")
        return HttpResponseRedirect(self._change_url(review))
