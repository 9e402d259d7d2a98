"""Assignment policies in the admin: who can request, up to three approval stages, expiry,
review settings, and the questions requestors answer.

The form is a mapper onto a PolicySpec and one call of governance.services.policies.policy_save:
the stages are flat fields ("stage2_deadline_days" for the spec's "stages[1].deadline_days"), so
each of the service's reasons shows beside its field and nothing is saved. Questions are an
inline whose forms are checked by question_check and saved by question_save / question_delete
after the policy.

A policy is of one of two kinds, chosen when it is added: people request it (the requestor
settings, approval stages and questions), or it is assigned automatically by a membership
rule (governance.admin.rule_editor: the rule, its preview, its runs; none of the requestor's
parts apply, and its access lasts until the rule stops matching unless an expiry is chosen).
"""

from datetime import timedelta

from django import forms
from django.contrib import admin
from django.contrib.admin.widgets import AutocompleteSelect, AutocompleteSelectMultiple
from django.db.models import Count
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from governance.admin import review_settings_form as reviews
from governance.admin.builder import (
    BuilderAdmin,
    catalog_filter,
)
from governance.admin.extensions import ExtensionStageInline
from governance.admin.questions import QuestionInline
from governance.admin.rule_editor import (
    AUTOMATIC_FIELDS,
    AutomaticPolicyFormMixin,
    RuleEditorAdmin,
    automatic_fields,
)
from governance.admin.rule_editor import HELP_TEXTS as RULE_HELP_TEXTS
from governance.admin.rule_editor import LABELS as RULE_LABELS
from governance.admin.rule_editor import WIDGETS as RULE_WIDGETS
from governance.admin.scoped import ServiceModelForm
from governance.admin.site import admin_site
from governance.choices import ExpirationType, SubjectSetType
from governance.models import (
    ApproverSet,
    AssignmentPolicy,
    ConnectedOrganization,
    Group,
    Question,
    User,
)
from governance.selectors.permissions import Capability
from governance.services.policies import policy_delete, policy_save
from governance.services.policy_spec import MAX_STAGES, STAGE_FIELD, PolicySpec, StageSpec

STAGES = range(1, MAX_STAGES + 1)
MANAGER = SubjectSetType.REQUESTOR_MANAGER
DYNAMIC_CHOICES = [
    ("", "None"),
    (MANAGER.value, "The requestor's manager"),
    (f"{MANAGER.value}:2", "The manager of the requestor's manager"),
    (SubjectSetType.INTERNAL_SPONSORS.value,
     "Internal sponsors of the requestor's connected organization"),
    (SubjectSetType.EXTERNAL_SPONSORS.value,
     "External sponsors of the requestor's connected organization"),
    (SubjectSetType.TARGET_USER_SPONSORS.value, "The requestor's own sponsors"),
]
STAGE_FIELDS = ("approvers", "approver_group", "dynamic_approver", "fallback_approvers",
                "escalation_approvers", "escalate_after_days", "deadline_days",
                "justification_required")
DEFAULT_DEADLINE_DAYS = 14


def _people_field(label: str, help_text: str) -> forms.ModelMultipleChoiceField:
    # Searched through the people lookup admin (governance.admin.people).
    widget = AutocompleteSelectMultiple(AssignmentPolicy._meta.get_field("specific_users"),
                                        admin_site)
    return forms.ModelMultipleChoiceField(queryset=User.objects.filter(is_active=True),
                                          required=False, label=label, help_text=help_text,
                                          widget=widget)


def _stage_fields(order: int) -> dict[str, forms.Field]:
    prefix = f"stage{order}_"
    return {
        prefix + "approvers": _people_field(
            "Approvers", "Any one of them decides for the stage."),
        prefix + "approver_group": forms.ModelChoiceField(
            queryset=Group.objects.all(), required=False, label="Approver group",
            help_text="Any member of this group can decide.",
            widget=AutocompleteSelect(ApproverSet._meta.get_field("group"), admin_site)),
        prefix + "dynamic_approver": forms.ChoiceField(
            choices=DYNAMIC_CHOICES, required=False, label="Dynamic approver",
            help_text="Found from each request; needs fallback approvers for when there is "
                      "nobody."),
        prefix + "fallback_approvers": _people_field(
            "Fallback approvers", "Decide when the approvers above cannot be found."),
        prefix + "escalation_approvers": _people_field(
            "Escalation approvers", "Asked too when nobody has decided after the days below; "
                                    "the approvers above can still decide."),
        prefix + "escalate_after_days": forms.IntegerField(
            required=False, label="Escalate after (days)",
            help_text="At least 1, and earlier than the deadline."),
        prefix + "deadline_days": forms.IntegerField(
            required=False, initial=DEFAULT_DEADLINE_DAYS, label="Deadline (days)",
            help_text="1 to 14. Undecided by then, the request is denied as expired."),
        prefix + "justification_required": forms.BooleanField(
            required=False, label="Approvers must give a justification"),
    }


class PolicyFormBase(ServiceModelForm):
    expiration_days = forms.IntegerField(
        required=False, label="Days", help_text="0 to 3660, with the hours below.")
    expiration_hours = forms.IntegerField(required=False, label="Hours")

    class Meta:
        model = AssignmentPolicy
        fields = [
            "access_package", "display_name", "description", "allowed_target_scope",
            "specific_users", "specific_groups", "specific_connected_organizations",
            "enable_self_add", "enable_self_update", "enable_self_remove",
            "enable_on_behalf_of_direct_reports", "allow_custom_schedule",
            "is_requestor_justification_required", "is_approval_required_for_add",
            "is_approval_required_for_update", "expiration_type", "expiration_end_at",
            "send_assignment_emails", "is_automatic", "membership_rule",
            "membership_rule_description", "request_access_for_allowed_targets",
            "remove_access_when_target_leaves",
        ]
        labels = {
            "allowed_target_scope": "Who can request",
            "enable_self_add": "People can request it for themselves",
            "enable_self_update": "People can ask to extend their access",
            "enable_self_remove": "People can remove their own access",
            "enable_on_behalf_of_direct_reports": "Managers can request it for their direct "
                                                  "reports",
            "allow_custom_schedule": "Requestors choose when access starts and ends",
            "is_requestor_justification_required": "Requestors must give a justification",
            "is_approval_required_for_add": "Requests need approval",
            "is_approval_required_for_update": "Extensions need approval",
            "expiration_type": "Access ends",
            "expiration_end_at": "On",
            "send_assignment_emails": "Email people when their access is delivered, about to "
                                      "expire or ended",
            **RULE_LABELS,
        }
        help_texts = {
            "allowed_target_scope": "A policy is for people in the directory or for people "
                                    "outside it, never both: a package has a policy for "
                                    "each.",
            "specific_users": "With “Specific users and groups”.",
            "specific_groups": "With “Specific users and groups”: their members can request.",
            "specific_connected_organizations": "With “Users of specific connected "
                                                "organizations”.",
            **RULE_HELP_TEXTS,
        }
        widgets = {"allowed_target_scope": forms.RadioSelect,
                   "expiration_type": forms.RadioSelect, **RULE_WIDGETS}

    # Where the service's field names differ from the form's.
    FIELD_FOR = {"expiration_duration": "expiration_days",
                 "grace_period_before_access_removal": "grace_period_days"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        policy = self.instance
        if policy.pk:
            for setting in policy.stages.order_by("order"):
                self._initial_stage(setting.order, StageSpec.of(setting))
            duration = policy.expiration_duration
            if duration is not None:
                self.initial.setdefault("expiration_days", duration.days)
                self.initial.setdefault("expiration_hours", duration.seconds // 3600)
        elif "expiration_days" in self.fields:
            self.initial.setdefault("expiration_days", 365)
        if "specific_connected_organizations" in self.fields:
            self.fields["specific_connected_organizations"].queryset = \
                ConnectedOrganization.objects.order_by("display_name")

    def _initial_stage(self, order: int, spec: StageSpec) -> None:
        prefix = f"stage{order}_"
        dynamic = spec.dynamic_approver
        if dynamic == MANAGER and spec.manager_level == 2:
            dynamic = f"{MANAGER.value}:2"
        values = {
            "approvers": [person.pk for person in spec.approvers],
            "approver_group": spec.approver_group.pk if spec.approver_group else None,
            "dynamic_approver": dynamic,
            "fallback_approvers": [person.pk for person in spec.fallback_approvers],
            "escalation_approvers": [person.pk for person in spec.escalation_approvers],
            "escalate_after_days": spec.escalate_after_days,
            "deadline_days": spec.deadline_days,
            "justification_required": spec.justification_required,
        }
        for name, value in values.items():
            self.initial.setdefault(prefix + name, value)

    def add_refusal(self, refusal) -> None:
        field = getattr(refusal, "field", None) or ""
        if stage := STAGE_FIELD.fullmatch(field):
            field = f"stage{int(stage['index']) + 1}_{stage['name']}"
        field = self.FIELD_FOR.get(field, field)
        self.add_error(field if field in self.fields else None, refusal.message)

    def _stage(self, order: int) -> tuple[bool, StageSpec]:
        """(whether anything of the stage was filled in, its spec)."""
        value = {name: self.cleaned_data.get(f"stage{order}_{name}") for name in STAGE_FIELDS}
        dynamic, level = value["dynamic_approver"] or "", 1
        if dynamic == f"{MANAGER.value}:2":
            dynamic, level = MANAGER.value, 2
        deadline = value["deadline_days"]
        spec = StageSpec(
            approvers=list(value["approvers"] or ()), approver_group=value["approver_group"],
            dynamic_approver=dynamic, manager_level=level,
            fallback_approvers=list(value["fallback_approvers"] or ()),
            escalation_approvers=list(value["escalation_approvers"] or ()),
            escalate_after_days=value["escalate_after_days"],
            deadline_days=DEFAULT_DEADLINE_DAYS if deadline is None else deadline,
            justification_required=bool(value["justification_required"]))
        filled = (not spec.is_empty or spec.escalate_after_days is not None
                  or spec.justification_required
                  or deadline not in (None, DEFAULT_DEADLINE_DAYS))
        return filled, spec

    def stage_specs(self) -> list[StageSpec]:
        """The stages up to the last one filled in; one left empty in between is refused."""
        stages = [self._stage(order) for order in STAGES]
        last = max((order for order, (filled, _) in enumerate(stages, start=1) if filled),
                   default=0)
        return [spec for _, spec in stages[:last]]

    def expiration_duration(self) -> timedelta | None:
        days = self.cleaned_data.get("expiration_days")
        hours = self.cleaned_data.get("expiration_hours")
        if days is None and hours is None:
            return None
        return timedelta(days=days or 0, hours=hours or 0)

    def service_save(self, actor):
        data = self.cleaned_data
        package = data.get("access_package")
        if self.automatic:
            # Nobody requests under it: no requestor settings, targets, stages or questions.
            spec = PolicySpec(
                display_name=data.get("display_name", ""),
                description=data.get("description", ""),
                expiration_type=data.get("expiration_type", ""),
                expiration_end_at=data.get("expiration_end_at"),
                expiration_duration=self.expiration_duration(),
                review_settings=self.review_settings_graph(),
                send_assignment_emails=bool(data.get("send_assignment_emails")),
                **self.automatic_values())
            return policy_save(
                actor=actor, policy_id=self.instance.pk,
                access_package_id=package.pk if package else self.instance.access_package_id,
                spec=spec)
        spec = PolicySpec(
            display_name=data.get("display_name", ""), description=data.get("description", ""),
            allowed_target_scope=data.get("allowed_target_scope", ""),
            specific_users=list(data.get("specific_users") or ()),
            specific_groups=list(data.get("specific_groups") or ()),
            specific_connected_organizations=list(
                data.get("specific_connected_organizations") or ()),
            expiration_type=data.get("expiration_type", ""),
            expiration_end_at=data.get("expiration_end_at"),
            expiration_duration=self.expiration_duration(),
            review_settings=self.review_settings_graph(), stages=self.stage_specs(),
            **{name: data.get(name, False) for name in PolicySpec.FLAGS})
        return policy_save(
            actor=actor, policy_id=self.instance.pk,
            access_package_id=package.pk if package else self.instance.access_package_id,
            spec=spec)


PolicyForm = type("PolicyForm", (AutomaticPolicyFormMixin, reviews.ReviewSettingsFormMixin,
                                 PolicyFormBase),
                  {**{name: field for order in STAGES
                      for name, field in _stage_fields(order).items()}, **reviews.review_fields(),
                   **automatic_fields()})


# The policy admin


def _stage_fieldset(order: int) -> tuple[str, dict]:
    prefix = f"stage{order}_"
    description = ("Leave it empty when the policy needs fewer stages."
                   if order > 1 else "Who decides first.")
    return (f"Approval stage {order}", {"description": description, "fields": [
        prefix + "approvers", prefix + "approver_group", prefix + "dynamic_approver",
        prefix + "fallback_approvers",
        (prefix + "escalation_approvers", prefix + "escalate_after_days"),
        (prefix + "deadline_days", prefix + "justification_required")]})


@admin.register(AssignmentPolicy, site=admin_site)
class AssignmentPolicyAdmin(RuleEditorAdmin, BuilderAdmin):
    form = PolicyForm
    view_capability = Capability.READ
    change_capability = Capability.PACKAGES
    inlines = [QuestionInline, ExtensionStageInline]
    list_display = ["display_name", "access_package", "catalog", "allowed_target_scope",
                    "stage_count", "expiry"]
    list_filter = [catalog_filter("access_package__catalog_id"), "allowed_target_scope"]
    list_select_related = ["access_package__catalog"]
    search_fields = ["display_name", "access_package__display_name"]
    autocomplete_fields = ["specific_users", "specific_groups"]
    filter_horizontal = ["specific_connected_organizations"]

    class Media:
        # The preview (htmx) and the form's two kinds (which fieldsets show); static files,
        # as the Content-Security-Policy asks.
        js = ["vendor/htmx-2.0.11.min.js", "portal/policy-form.js"]
        css = {"all": ["portal/rule-editor.css"]}

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(stage_total=Count("stages")).order_by(
            "access_package__display_name", "display_name")

    @admin.display(description="Catalog", ordering="access_package__catalog__display_name")
    def catalog(self, policy):
        return policy.access_package.catalog

    @admin.display(description="Approval stages", ordering="stage_total")
    def stage_count(self, policy):
        return policy.stage_total or "None"

    @admin.display(description="Access ends")
    def expiry(self, policy):
        if policy.expiration_type == ExpirationType.AFTER_DURATION:
            days, hours = policy.expiration_duration.days, \
                policy.expiration_duration.seconds // 3600
            parts = [f"{days} day{'s' if days != 1 else ''}" if days else "",
                     f"{hours} hour{'s' if hours != 1 else ''}" if hours else ""]
            return "After " + " ".join(part for part in parts if part)
        if policy.expiration_type == ExpirationType.AFTER_DATETIME:
            return format_html("On {}", policy.expiration_end_at.date().isoformat())
        return "Never"

    review_summary = reviews.review_summary

    @admin.display(description="Approval stages")
    def stage_summary(self, policy):
        stages = []
        for setting in policy.stages.order_by("order"):
            spec = StageSpec.of(setting)
            who = [str(person) for person in spec.approvers]
            if spec.approver_group:
                who.append(f"members of {spec.approver_group}")
            if spec.dynamic_approver:
                who.append(SubjectSetType(spec.dynamic_approver).label.lower())
            extra = []
            if spec.fallback_approvers:
                extra.append("fallback: " + ", ".join(map(str, spec.fallback_approvers)))
            if spec.escalate_after_days:
                extra.append(f"escalates after {spec.escalate_after_days} days to "
                             + ", ".join(map(str, spec.escalation_approvers)))
            extra.append(f"deadline {spec.deadline_days} days")
            stages.append((setting.order, ", ".join(who), "; ".join(extra)))
        if not stages:
            return "No approval"
        return format_html("<ol>{}</ol>", format_html_join(
            "", "<li value=\"{}\">{} ({})</li>", stages))

    def get_fieldsets(self, request, obj=None):
        editable = self.has_change_permission(request, obj) if obj is not None \
            else self.has_add_permission(request)
        automatic = obj is not None and obj.is_automatic
        first = ["access_package", "display_name", "description"]
        if obj is None:
            first.append("is_automatic")
        fieldsets = [(None, {"fields": first})]
        if obj is None or automatic:
            fieldsets += self._rule_fieldsets(editable, obj)
        if not automatic:
            fieldsets += self._request_fieldsets(editable, adding=obj is None)
        if editable:
            expiry = ["expiration_type", "expiration_end_at",
                      ("expiration_days", "expiration_hours")]
        else:
            expiry = ["expiry"]
        return fieldsets + [
            ("Expiration", {"fields": expiry}),
            *reviews.review_fieldsets(editable),
            ("Notifications", {"fields": ["send_assignment_emails"]}),
        ]

    @staticmethod
    def _rule_fieldsets(editable: bool, obj) -> list:
        """The automatic policy's: its rule and what the rule does, its runs once saved."""
        description = ("Everyone the rule matches gets the package, without asking and "
                       "without approval; the preview shows whom it matches as you type.")
        if not editable:
            fields = ["membership_rule", "membership_rule_description",
                      "request_access_for_allowed_targets", "remove_access_when_target_leaves",
                      "grace_period"]
        else:
            fields = list(AUTOMATIC_FIELDS) + (["confirm_removals"] if obj is not None else [])
        found = [("Membership rule", {"classes": ["automatic-only"], "description": description,
                                      "fields": fields})]
        if obj is not None:
            found.append(("Runs of the rule", {
                "description": "Saving a changed rule runs it over everyone, in the "
                               "background; a person's own changes are evaluated as they come, "
                               "and a sweep repairs any drift every minute.",
                "fields": ["rule_runs"]}))
        return found

    @staticmethod
    def _request_fieldsets(editable: bool, *, adding: bool) -> list:
        """A requested policy's: who can request, the requestor's settings, approval."""
        classes = ["requested-only"] if adding else []
        fieldsets = [
            ("Who can request", {"classes": classes, "fields": [
                "allowed_target_scope", "specific_users", "specific_groups",
                "specific_connected_organizations"]}),
            ("Requests", {"classes": classes, "fields": [
                "enable_self_add", "enable_self_update", "enable_self_remove",
                "enable_on_behalf_of_direct_reports", "allow_custom_schedule",
                "is_requestor_justification_required"]}),
            ("Approval", {"classes": classes,
                          "description": "Up to three stages, decided in order; the first "
                                         "approver of a stage to decide decides for it, and a "
                                         "denial ends the request. Nobody approves their own "
                                         "request.",
                          "fields": ["is_approval_required_for_add",
                                     "is_approval_required_for_update"]}),
        ]
        if editable:
            for order in STAGES:
                name, options = _stage_fieldset(order)
                fieldsets.append((name, {**options, "classes": classes}))
        else:
            fieldsets.append(("Approval stages", {"fields": ["stage_summary"]}))
        return fieldsets

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ["rule_preview"]
        if not self.has_change_permission(request, obj):
            return ["stage_summary", "expiry", "review_summary", "grace_period", "rule_runs"]
        return ["access_package", "rule_preview", "rule_runs"]

    def get_inlines(self, request, obj):
        # Nobody requests under an automatic policy: nobody answers questions.
        if obj is not None and obj.is_automatic:
            return [inline for inline in self.inlines if inline is not QuestionInline]
        return self.inlines

    def save_formset(self, request, form, formset, change):
        if form.instance.is_automatic and formset.model is Question:
            # The add page's questions, hidden once "automatic" was chosen: none is saved.
            formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
            return
        super().save_formset(request, form, formset, change)

    def _package_page(self, policy):
        return redirect(reverse("admin:governance_accesspackage_change",
                                args=[policy.access_package_id],
                                current_app=self.admin_site.name))

    def _after_save(self, request, obj):
        # An automatic policy's page shows its rule's run, which the save has just queued.
        if obj.is_automatic:
            return redirect(self._object_url(obj))
        return self._package_page(obj)

    def response_post_save_add(self, request, obj):
        return self._after_save(request, obj)

    def response_post_save_change(self, request, obj):
        return self._after_save(request, obj)

    def service_delete(self, actor, policy):
        policy_delete(actor=actor, policy_id=policy.pk)
