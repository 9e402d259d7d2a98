"""A policy's access review settings as fields of its admin form, and in words.

The fields make Graph's accessPackageAssignmentReviewSettings with ReviewSettings.to_graph();
review_settings_from_graph checks them (here while the form is cleaned, and again in
policy_save), and its refusal shows beside the field it concerns, read from the refusal's
code. Reviewers are people, groups and the kinds found from each person (their manager, their
organisation's sponsors, the package's managers), as primary and as fallback reviewers.
"""

from datetime import timedelta

from django import forms
from django.contrib import admin
from django.contrib.admin.widgets import (
    AdminSplitDateTime,
    AutocompleteSelectMultiple,
)
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.text import capfirst

from governance import clock
from governance.admin.site import admin_site
from governance.choices import ReviewerType, ReviewExpirationBehavior, ReviewRecurrence
from governance.models import AssignmentPolicy, Group, User
from governance.models.review_settings import (
    NEEDS_ID,
    RECOMMENDATION_INACTIVE_DAYS,
    Reviewer,
    ReviewSettings,
    review_settings_from_graph,
)
from governance.services.errors import InvalidInput

# Reviewers found from each person, offered as tick boxes.
FOUND_REVIEWERS = [(kind.value, kind.label) for kind in ReviewerType
                   if kind.value not in NEEDS_ID]
# Which field a refusal of review_settings_from_graph concerns, by its code.
FIELD_FOR_CODE = {
    "invalidRecurrence": "review_recurrence",
    "invalidStart": "review_start",
    "invalidDuration": "review_duration_days",
    "reviewersRequired": "review_primary_kinds",
    "invalidReviewer": "review_primary_users",
    "invalidExpirationBehavior": "review_expiration_behavior",
}
# What reviews cannot do without, in the form's words (Graph's would speak of JSON).
REQUIRED = {"review_recurrence": "Choose how often reviews run.",
            "review_start": "Give the date and time of the first review."}
WORDS_FOR_CODE = {"invalidStart": REQUIRED["review_start"]}
DEFAULT_DURATION_DAYS = 14


def _people(label: str) -> forms.ModelMultipleChoiceField:
    widget = AutocompleteSelectMultiple(AssignmentPolicy._meta.get_field("specific_users"),
                                        admin_site)
    return forms.ModelMultipleChoiceField(queryset=User.objects.filter(is_active=True),
                                          required=False, label=label, widget=widget)


def _groups(label: str) -> forms.ModelMultipleChoiceField:
    widget = AutocompleteSelectMultiple(AssignmentPolicy._meta.get_field("specific_groups"),
                                        admin_site)
    return forms.ModelMultipleChoiceField(queryset=Group.objects.all(), required=False,
                                          label=label, widget=widget)


def review_fields() -> dict[str, forms.Field]:
    """The fields, by name, to add to the policy form."""
    return {
        "review_enabled": forms.BooleanField(
            required=False, label="Enabled",
            help_text="Reviewers are asked, on a schedule, whether each person keeps access."),
        "review_recurrence": forms.ChoiceField(
            choices=ReviewRecurrence.choices, initial=ReviewRecurrence.QUARTERLY,
            required=False, label="Recurrence"),
        "review_start": forms.SplitDateTimeField(
            required=False, label="First review starts", widget=AdminSplitDateTime),
        "review_duration_days": forms.IntegerField(
            required=False, initial=DEFAULT_DURATION_DAYS, label="Duration (days)",
            help_text="How long reviewers have; a review ends before the next one starts."),
        "review_self": forms.BooleanField(
            required=False, label="Self-review",
            help_text="Each person is asked whether they still need access."),
        "review_primary_kinds": forms.MultipleChoiceField(
            choices=FOUND_REVIEWERS, required=False, label="Primary reviewers",
            widget=forms.CheckboxSelectMultiple),
        "review_primary_users": _people("Specific reviewers"),
        "review_primary_groups": _groups("Members of groups"),
        "review_fallback_kinds": forms.MultipleChoiceField(
            choices=FOUND_REVIEWERS, required=False, label="Fallback reviewers",
            widget=forms.CheckboxSelectMultiple,
            help_text="Asked when a person has no primary reviewer (no manager, no "
                      "sponsors)."),
        "review_fallback_users": _people("Specific fallback reviewers"),
        "review_fallback_groups": _groups("Fallback groups"),
        "review_justification_required": forms.BooleanField(
            required=False, label="Justification required",
            help_text="Reviewers say why they approve or deny."),
        "review_recommendations": forms.BooleanField(
            required=False, initial=True, label="Recommendations",
            help_text=f"Deny for people who have not signed in for "
                      f"{RECOMMENDATION_INACTIVE_DAYS} days, approve otherwise."),
        "review_expiration_behavior": forms.ChoiceField(
            choices=ReviewExpirationBehavior.choices,
            initial=ReviewExpirationBehavior.KEEP_ACCESS, required=False,
            label="If reviewers don't respond", widget=forms.RadioSelect),
        "review_auto_apply": forms.BooleanField(
            required=False, initial=True, label="Apply results automatically",
            help_text="Otherwise an owner applies them with “Apply results” on the review."),
    }


def review_fieldsets(editable: bool) -> list[tuple[str | None, dict]]:
    if not editable:
        return [("Access reviews", {"fields": ["review_summary"]})]
    return [
        ("Access reviews", {"fields": [
            "review_enabled", ("review_recurrence", "review_duration_days"), "review_start",
            "review_expiration_behavior", "review_auto_apply"]}),
        ("Reviewers", {"description": "Self-review, or at least one primary reviewer.",
                       "fields": [
                           "review_self", "review_primary_kinds",
                           ("review_primary_users", "review_primary_groups"),
                           "review_fallback_kinds",
                           ("review_fallback_users", "review_fallback_groups"),
                           "review_justification_required", "review_recommendations"]}),
    ]


def _reviewer_initial(reviewers: tuple[Reviewer, ...]) -> tuple[list, list, list]:
    return ([r.type for r in reviewers if r.type not in NEEDS_ID],
            [r.user_id for r in reviewers if r.user_id is not None],
            [r.group_id for r in reviewers if r.group_id is not None])


class ReviewSettingsFormMixin:
    """For the policy form with review_fields(): initial values from the stored settings,
    the Graph JSON from the values, and refusals beside their fields."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "review_enabled" not in self.fields or not self.instance.review_settings:
            return
        try:
            settings = review_settings_from_graph(self.instance.review_settings)
        except InvalidInput:
            return  # stored before they were checked: the form starts afresh
        if not settings.is_enabled:
            return
        initial = {
            "review_enabled": True, "review_recurrence": settings.recurrence,
            "review_start": timezone.localtime(settings.start_at),
            "review_duration_days": settings.duration.days,
            "review_self": settings.is_self_review,
            "review_justification_required": settings.is_justification_required,
            "review_recommendations": settings.is_recommendation_enabled,
            "review_expiration_behavior": settings.expiration_behavior,
            "review_auto_apply": settings.auto_apply,
        }
        for which, reviewers in (("primary", settings.primary),
                                 ("fallback", settings.fallback)):
            kinds, users, groups = _reviewer_initial(reviewers)
            initial |= {f"review_{which}_kinds": kinds, f"review_{which}_users": users,
                        f"review_{which}_groups": groups}
        for name, value in initial.items():
            self.initial.setdefault(name, value)

    def _reviewers(self, which: str) -> tuple[Reviewer, ...]:
        data = self.cleaned_data
        chosen = set(data.get(f"review_{which}_kinds") or ())
        return tuple(
            [Reviewer(ReviewerType.SINGLE_USER, user_id=user.pk)
             for user in data.get(f"review_{which}_users") or ()]
            + [Reviewer(ReviewerType.GROUP_MEMBERS, group_id=group.pk)
               for group in data.get(f"review_{which}_groups") or ()]
            + [Reviewer(kind) for kind, _ in FOUND_REVIEWERS if kind in chosen])

    def review_settings_graph(self) -> dict:
        """Graph's JSON of the review settings as filled in; {} when reviews are off."""
        if not self.cleaned_data.get("review_enabled"):
            return {}
        return self._graph(self.cleaned_data.get("review_start"))

    def _graph(self, start_at) -> dict:
        data = self.cleaned_data
        days = data.get("review_duration_days")
        return ReviewSettings(
            is_enabled=True, recurrence=data.get("review_recurrence"), start_at=start_at,
            duration=timedelta(days=DEFAULT_DURATION_DAYS if days is None else days),
            is_self_review=bool(data.get("review_self")),
            primary=self._reviewers("primary"), fallback=self._reviewers("fallback"),
            is_justification_required=bool(data.get("review_justification_required")),
            is_recommendation_enabled=bool(data.get("review_recommendations")),
            expiration_behavior=data.get("review_expiration_behavior")
            or ReviewExpirationBehavior.KEEP_ACCESS,
            auto_apply=bool(data.get("review_auto_apply"))).to_graph()

    def clean(self):
        data = self.cleaned_data
        reviewing = "review_enabled" in self.fields and data.get("review_enabled")
        if reviewing and not any(name.startswith("review_") for name in self.errors):
            for name, words in REQUIRED.items():
                if not data.get(name):
                    self.add_error(name, words)
            if data.get("review_recurrence"):
                # Without a start yet, the other settings are checked as if it were now.
                try:
                    review_settings_from_graph(self._graph(data.get("review_start")
                                                           or clock.now()))
                except InvalidInput as refusal:
                    self.add_refusal(refusal)
        return super().clean()

    def add_refusal(self, refusal) -> None:
        if getattr(refusal, "field", None) != "review_settings":
            super().add_refusal(refusal)
            return
        field = FIELD_FOR_CODE.get(refusal.code)
        self.add_error(field if field in self.fields else None,
                       WORDS_FOR_CODE.get(refusal.code, refusal.message))


# In words, for those who may only read a policy, and on each review.


def _moment(value) -> str:
    return date_format(timezone.localtime(value), "DATETIME_FORMAT")


def _who(reviewers: tuple[Reviewer, ...], users: dict, groups: dict) -> list[str]:
    names = []
    for reviewer in reviewers:
        if reviewer.user_id is not None:
            names.append(str(users.get(reviewer.user_id, f"user {reviewer.user_id}")))
        elif reviewer.group_id is not None:
            names.append(f"members of {groups.get(reviewer.group_id, reviewer.group_id)}")
        else:
            names.append(ReviewerType(reviewer.type).label.lower())
    return names


def settings_lines(data: dict | None) -> list[tuple[str, str]]:
    """(what, how) of each setting, in words; [] when reviews are off."""
    try:
        settings = review_settings_from_graph(data)
    except InvalidInput as refusal:
        return [("Settings", f"Cannot be read: {refusal.message}")]
    if not settings.is_enabled:
        return []
    everyone = settings.primary + settings.fallback
    users = User.objects.in_bulk([r.user_id for r in everyone if r.user_id is not None])
    groups = Group.objects.in_bulk([r.group_id for r in everyone if r.group_id is not None])
    primary = (["each person themselves"] if settings.is_self_review else []) \
        + _who(settings.primary, users, groups)
    lines = [
        ("Recurrence", f"{ReviewRecurrence(settings.recurrence).label}, from "
                       f"{_moment(settings.start_at)}; each review lasts "
                       f"{settings.duration.days} days"),
        ("Reviewers", capfirst(", ".join(primary))),
    ]
    if settings.fallback:
        lines.append(("Fallback reviewers", ", ".join(_who(settings.fallback, users, groups))))
    lines += [
        ("Justification", "Required" if settings.is_justification_required
         else "Not required"),
        ("Recommendations", f"Shown (deny after {RECOMMENDATION_INACTIVE_DAYS} days without "
                            "signing in)" if settings.is_recommendation_enabled else "None"),
        ("If reviewers don't respond",
         ReviewExpirationBehavior(settings.expiration_behavior).label),
        ("Results", "Applied automatically" if settings.auto_apply
         else "Applied by an owner with “Apply results”"),
    ]
    return lines


def settings_summary(data: dict | None) -> str:
    lines = settings_lines(data)
    if not lines:
        return "No access reviews"
    return format_html("<dl class='review-settings'>{}</dl>",
                       format_html_join("", "<dt>{}</dt><dd>{}</dd>", lines))


@admin.display(description="Access reviews")
def review_summary(model_admin, policy: AssignmentPolicy) -> str:
    """A read-only field of the policy admin."""
    return settings_summary(policy.review_settings)
