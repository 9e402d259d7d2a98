"""The rule editor of an automatic policy in the admin (issue 17): the policy form's automatic
fields, the preview that answers as the owner types, the confirmation a rule that removes
many people asks for, and the runs of the rule on the policy's page.

- The preview is an htmx fragment: the form's values are posted to
  `<policy id>/rule-preview/` (a saved policy) or `rule-preview/` (the add page, with the
  form's access package) on each change of the rule or its settings; it says whether the rule
  reads (else the message and its column), how many people match, the first of them, and for
  a saved policy who would gain and lose access if it were saved now
  (governance.selectors.rule_preview). Only those who may change the package's policies call
  it (catalog owners, package managers, global administrators); anyone else gets a 404.
- Saving a rule that would schedule the removal of more than
  settings.AUTOMATIC_REMOVAL_CONFIRM_ABOVE people is refused beside the tick box that
  confirms it, naming the number; nothing is saved until it is ticked.
- The runs (RuleEvaluation) show on the policy's page, polled while one is queued or running.
"""

from datetime import timedelta

from django import forms
from django.conf import settings
from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.http import Http404, HttpResponse
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from governance.models import AccessPackage, AssignmentPolicy
from governance.selectors import rule_preview as previews
from governance.selectors.permissions import Capability, can_anywhere

RUNS_SHOWN = 10
DEFAULT_GRACE_DAYS = 7
CONFIRM_LABEL = "Remove their access"
KIND_CHOICES = [(False, "People request it"), (True, "Assign automatically by a rule")]
# The form's names of the automatic fields (the spec's, but the grace period in days).
AUTOMATIC_FIELDS = ["membership_rule", "rule_preview", "membership_rule_description",
                    "request_access_for_allowed_targets", "remove_access_when_target_leaves",
                    "grace_period_days"]
LABELS = {
    "membership_rule": "Membership rule",
    "membership_rule_description": "What the rule says, in words",
    "request_access_for_allowed_targets": "Assign people who match",
    "remove_access_when_target_leaves": "Remove access when they no longer match",
}
WIDGETS = {"membership_rule": forms.Textarea(attrs={
    "rows": 3, "cols": 80, "spellcheck": "false", "class": "rule-editor",
    "autocomplete": "off"})}
HELP_TEXTS = {
    "membership_rule": "In Microsoft Entra's rule syntax, for example "
                       "<code>user.department -eq \"Sales\" -and -not (user.jobTitle "
                       "-startsWith \"Intern\")</code>. It can read user.department, "
                       "jobTitle, employeeId, employeeType, companyName, officeLocation, mail, "
                       "userType, accountEnabled and manager.",
    "membership_rule_description": "For example “Everyone in Sales”.",
    "request_access_for_allowed_targets": "Off, the policy gives the package to nobody new, "
                                          "but still removes it as below.",
}


def _truthy(value) -> bool:
    return value in ("on", "true", "True", "1")


def _days(value) -> int | None:
    value = (value or "").strip()
    return int(value) if value.isdigit() else None


def automatic_fields() -> dict[str, forms.Field]:
    """The policy form's fields for an automatic policy that are not the model's own."""
    return {
        "is_automatic": forms.TypedChoiceField(
            choices=KIND_CHOICES, coerce=lambda value: value in (True, "True"),
            initial=False, required=False, widget=forms.RadioSelect,
            label="How people get access",
            help_text="An automatic policy assigns everyone its membership rule matches, and "
                      "nobody requests under it: it has no requestor settings, approval or "
                      "questions. A package has at most one. A policy stays the kind it was "
                      "created."),
        "grace_period_days": forms.IntegerField(
            required=False, initial=DEFAULT_GRACE_DAYS, min_value=0,
            label="Grace period (days)",
            help_text="How long someone keeps the package after they stop matching; matching "
                      "again within it cancels the removal. 0 removes it at once."),
        "confirm_removals": forms.BooleanField(required=False, label=CONFIRM_LABEL),
    }


class AutomaticPolicyFormMixin:
    """For the policy form with automatic_fields(): the kind fixed once saved, the grace
    period in days, and the confirmation of many removals; `automatic_values()` gives the
    spec's automatic fields."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["confirm_removals"].help_text = (
            "Asked when saving the rule would remove access from more than "
            f"{settings.AUTOMATIC_REMOVAL_CONFIRM_ABOVE} people.")
        policy = self.instance
        if policy.pk:
            # A policy stays the kind it was created (the service refuses a change).
            self.fields["is_automatic"].disabled = True
            self.initial["is_automatic"] = policy.is_automatic
            grace = policy.grace_period_before_access_removal
            self.initial["grace_period_days"] = grace.days if grace is not None else 0
        elif self.initial.get("is_automatic") in (True, "True", "1"):
            self.initial["expiration_type"] = "noExpiration"

    @property
    def automatic(self) -> bool:
        if self.instance.pk:
            return self.instance.is_automatic
        return bool(self.cleaned_data.get("is_automatic"))

    def automatic_values(self) -> dict:
        data = self.cleaned_data
        days = data.get("grace_period_days")
        return {
            "is_automatic": True,
            "membership_rule": data.get("membership_rule") or "",
            "membership_rule_description": data.get("membership_rule_description") or "",
            "request_access_for_allowed_targets": bool(
                data.get("request_access_for_allowed_targets")),
            "remove_access_when_target_leaves": bool(
                data.get("remove_access_when_target_leaves")),
            "grace_period_before_access_removal": timedelta(days=days or 0),
        }

    def clean(self):
        cleaned = super().clean()
        if self.errors or not self.automatic:
            return cleaned
        if cleaned.get("grace_period_days") is None:
            self.add_error("grace_period_days", "Give the number of days; 0 removes access "
                                                "as soon as they no longer match.")
            return cleaned
        if not self.instance.pk:
            return cleaned  # nobody holds a new policy's package under it yet
        values = self.automatic_values()
        tree, _error, _column = previews.rule_tree(values["membership_rule"])
        if tree is None:
            return cleaned  # the service's refusal already shows beside the rule
        count = previews.removal_count(self.instance, tree,
                                       removes=values["remove_access_when_target_leaves"])
        if count > settings.AUTOMATIC_REMOVAL_CONFIRM_ABOVE and not cleaned.get(
                "confirm_removals"):
            self.add_error("confirm_removals", f"This rule removes access from {count:,} "
                           f"people. Tick “{CONFIRM_LABEL}” to save it.")
        return cleaned


class RuleEditorAdmin:
    """Before the policy's model admin in the bases: the preview and runs URLs, and the
    read-only fields that show them."""

    def get_urls(self):
        wrap = self.admin_site.admin_view
        info = f"{self.opts.app_label}_{self.opts.model_name}"
        return [
            path("rule-preview/", wrap(self.rule_preview_view), name=f"{info}_rule_preview"),
            path("<path:object_id>/rule-preview/", wrap(self.rule_preview_view),
                 name=f"{info}_rule_preview_of"),
            path("<path:object_id>/rule-runs/", wrap(self.rule_runs_view),
                 name=f"{info}_rule_runs"),
            *super().get_urls(),
        ]

    # The preview

    def _preview_target(self, request, object_id, data):
        """(policy or None, package or None) the person may change policies of; 404 for
        anything else."""
        if object_id is not None:
            policy = AssignmentPolicy.objects.restrict(request.user, Capability.PACKAGES) \
                .select_related("access_package").filter(
                    pk=object_id if object_id.isdigit() else None, is_automatic=True).first()
            if policy is None:
                raise Http404("No automatic policy of your catalogs has this id.")
            return policy, policy.access_package
        package_id = (data.get("access_package") or "").strip()
        if not package_id:
            if not can_anywhere(request.user, Capability.PACKAGES):
                raise Http404("You change no catalog's policies.")
            return None, None
        package = AccessPackage.objects.restrict(request.user, Capability.PACKAGES).filter(
            pk=package_id if package_id.isdigit() else None).first()
        if package is None:
            raise Http404("No package of your catalogs has this id.")
        return None, package

    def rule_preview_view(self, request, object_id=None):
        data = request.POST if request.method == "POST" else request.GET
        policy, package = self._preview_target(
            request, None if object_id is None else unquote(object_id), data)
        context = {"package": package, "preview": None}
        if "membership_rule" in data:  # the form's values, as typed
            rule = data.get("membership_rule", "")
            assigns = _truthy(data.get("request_access_for_allowed_targets"))
            removes = _truthy(data.get("remove_access_when_target_leaves"))
            days = _days(data.get("grace_period_days"))
            grace = timedelta(days=DEFAULT_GRACE_DAYS if days is None else days)
        elif policy is not None:  # as saved
            rule, assigns = policy.membership_rule, policy.request_access_for_allowed_targets
            removes = policy.remove_access_when_target_leaves
            grace = policy.grace_period_before_access_removal
        else:
            rule, assigns, removes = "", True, True
            grace = timedelta(days=DEFAULT_GRACE_DAYS)
        if package is not None:
            context["preview"] = previews.rule_preview(
                rule, package=package, policy=policy, assigns=assigns, removes=removes,
                grace_period=grace)
        context["confirm_above"] = settings.AUTOMATIC_REMOVAL_CONFIRM_ABOVE
        return TemplateResponse(
            request, "admin/governance/assignmentpolicy/fragment_rule_preview.html", context)

    @admin.display(description="Preview")
    def rule_preview(self, policy):
        if policy.pk:
            url = reverse("admin:governance_assignmentpolicy_rule_preview_of",
                          args=[policy.pk], current_app=self.admin_site.name)
            triggers = []
        else:
            url = reverse("admin:governance_assignmentpolicy_rule_preview",
                          current_app=self.admin_site.name)
            triggers = ["change from:#id_access_package"]
        triggers = ", ".join(["load", "input delay:300ms from:#id_membership_rule",
                              "change from:#id_request_access_for_allowed_targets",
                              "change from:#id_remove_access_when_target_leaves",
                              "input delay:300ms from:#id_grace_period_days", *triggers])
        return format_html(
            '<div id="rule-preview" class="rule-preview" hx-post="{}" hx-trigger="{}" '
            'hx-sync="this:replace" aria-live="polite">'
            "<p>Type a rule to see whom it matches.</p>"
            "<noscript><p>The preview needs JavaScript; saving checks the rule.</p></noscript>"
            "</div>", url, triggers)

    # The runs

    def _runs_fragment(self, policy) -> str:
        runs = list(policy.rule_evaluations.select_related("actor")[:RUNS_SHOWN])
        return render_to_string("admin/governance/assignmentpolicy/fragment_rule_runs.html", {
            "policy": policy, "runs": runs, "open": any(run.is_open for run in runs)})

    def rule_runs_view(self, request, object_id):
        policy = self.get_object(request, unquote(object_id))
        if policy is None or not self.has_view_permission(request, policy):
            raise Http404("No policy of your catalogs has this id.")
        return HttpResponse(self._runs_fragment(policy))

    @admin.display(description="Runs of the rule")
    def rule_runs(self, policy):
        return self._runs_fragment(policy)

    @admin.display(description="Grace period")
    def grace_period(self, policy):
        days = (policy.grace_period_before_access_removal or timedelta(0)).days
        if not policy.remove_access_when_target_leaves:
            return "Access is kept when they no longer match"
        return f"{days} day{'s' if days != 1 else ''}" if days else "None: removed at once"
