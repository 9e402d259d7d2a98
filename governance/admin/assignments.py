"""Assignments in the delegated admin (their requests: governance.admin.requests): read by
every catalog role, acted on by those who may manage assignments (owners, package managers,
assignment managers).

Nothing here edits a field: assigning directly, removing, reprocessing and canceling are
service calls (`request_admin_add`, `request_remove`, `delivery_reprocess`,
`request_cancel`), which check the person's role again and refuse in words shown as messages.
"""

from datetime import timedelta

from django.contrib import admin, messages
from django.contrib.admin import RelatedOnlyFieldListFilter
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.utils import quote, unquote
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from governance import clock
from governance.admin import bulk_assignments  # noqa: F401 - registers the bulk job admin
from governance.admin.assignment_forms import AssignDirectlyForm, assign_page
from governance.admin.csv_export import csv_response
from governance.admin.scoped import ReadOnlyAdmin, ScopedAdmin
from governance.admin.site import admin_site
from governance.admin.system_columns import DeliverySystemColumns
from governance.choices import ASSIGNMENT_ACTIVE, RequestState
from governance.models import (
    Assignment,
    AssignmentRequest,
    RoleDelivery,
)
from governance.selectors.permissions import Capability
from governance.services.delivery import delivery_reprocess
from governance.services.errors import Refused
from governance.services.requests import request_admin_add, request_remove

CANCELABLE = {RequestState.SUBMITTED, RequestState.PENDING_APPROVAL, RequestState.SCHEDULED}
REPROCESSABLE = {RequestState.DELIVERING, RequestState.DELIVERY_FAILED,
                 RequestState.PARTIALLY_DELIVERED}


def report_outcomes(request, done: list[str], refused: list[tuple[object, Refused]],
                    verb: str) -> None:
    """One message for what was done, one per refusal (with the object it concerns)."""
    if done:
        messages.success(request, f"{verb}: {', '.join(done)}.")
    for obj, refusal in refused:
        messages.error(request, f"{obj}: {refusal.message}")


def _iso(moment) -> str:
    return timezone.localtime(moment).isoformat(timespec="minutes") if moment else ""


def reprocess_message(count: int) -> str:
    if count:
        return f"{count} resource role(s) queued to be tried again now."
    return "No resource role failed or is waiting to be retried: nothing to reprocess."


class ReadOnlyInline(ReadOnlyAdmin, admin.TabularInline):
    """Rows shown on their parent's page, as they are: the parent admin decided who sees it."""

    extra = 0
    can_delete = False

    def has_view_permission(self, request, obj=None):
        return True


class ActingAdmin(ScopedAdmin):
    """Read for every catalog role; fields never edited; actions for ASSIGNMENTS holders."""

    view_capability = Capability.READ
    change_capability = Capability.ASSIGNMENTS

    def has_change_permission(self, request, obj=None):
        return False

    def has_assignments_permission(self, request, obj=None) -> bool:
        return self._allowed(request, Capability.ASSIGNMENTS, obj)

    def _object_or_redirect(self, request, object_id):
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            return None, self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not self.has_assignments_permission(request, obj):
            raise PermissionDenied
        return obj, None

    def _change_url(self, obj) -> str:
        return reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_change",
                       args=[quote(obj.pk)], current_app=self.admin_site.name)

    def _url_name(self, suffix: str) -> str:
        return f"{self.opts.app_label}_{self.opts.model_name}_{suffix}"

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, unquote(object_id))
        extra_context = {**(extra_context or {}),
                         "can_act": obj is not None
                         and self.has_assignments_permission(request, obj)}
        return super().change_view(request, object_id, form_url, extra_context)


class ExpiringWithin(admin.SimpleListFilter):
    title = "expiring"
    parameter_name = "expiring_within"
    DAYS = ("7", "30", "90")

    def lookups(self, request, model_admin):
        return [(days, f"Within {days} days") for days in self.DAYS]

    def queryset(self, request, queryset):
        if self.value() not in self.DAYS:
            return queryset
        now = clock.now()
        return queryset.filter(state__in=ASSIGNMENT_ACTIVE, expires_at__gte=now,
                               expires_at__lte=now + timedelta(days=int(self.value())))


class OrganisationFilter(RelatedOnlyFieldListFilter):
    """The connected organisations of the people in the list, and only those."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.title = "organisation"


class RoleDeliveryInline(DeliverySystemColumns, ReadOnlyInline):
    model = RoleDelivery
    verbose_name = "resource role"
    verbose_name_plural = "Resource roles and their delivery"
    fields = ["role", "system", "action", "state", "attempts", "last_error", "note",
              "next_retry", "completed_at"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("role__resource__system")


class AssignmentRequestInline(ReadOnlyInline):
    model = AssignmentRequest
    fk_name = "assignment"
    verbose_name_plural = "Requests"
    fields = ["created_at", "request_type", "state", "requestor", "status"]
    readonly_fields = fields
    show_change_link = True

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("requestor")


@admin.register(Assignment, site=admin_site)
class AssignmentAdmin(ActingAdmin):
    list_display = ["person", "organisation", "access_package", "policy", "state",
                    "expires_at"]
    list_filter = ["state", ExpiringWithin, ("access_package", RelatedOnlyFieldListFilter),
                   ("policy", RelatedOnlyFieldListFilter),
                   ("target__connected_organization", OrganisationFilter)]
    list_select_related = ["target__connected_organization", "access_package", "policy"]
    search_fields = ["target__email", "target__display_name"]
    search_help_text = "Search by the person's email or name."
    show_full_result_count = False
    fields = ["target", "organisation", "access_package", "policy", "assigned_how", "state",
              "status", "start_at", "expires_at", "rule_removal", "created_at", "ended_at",
              "end_reason"]
    readonly_fields = fields
    inlines = [RoleDeliveryInline, AssignmentRequestInline]
    actions = ["reprocess_selected", "remove_selected"]

    @admin.display(description="Person", ordering="target__email")
    def person(self, assignment: Assignment):
        return format_html("{}<br><span class='quiet'>{}</span>", assignment.target,
                           assignment.target.email)

    @admin.display(description="Assigned")
    def assigned_how(self, assignment: Assignment) -> str:
        policy = assignment.policy
        if policy is not None and policy.is_automatic:
            return f"Automatically, by the rule of “{policy}”: {policy.membership_rule}"
        first = assignment.requests.order_by("created_at", "pk").first()
        return first.get_request_type_display() if first else "—"

    @admin.display(description="Removal")
    def rule_removal(self, assignment: Assignment) -> str:
        if assignment.rule_removal_at is None:
            return "—"
        return (f"Ends on {clock.when_text(assignment.rule_removal_at)} unless they match the "
                "policy's rule again")

    @admin.display(description="Organisation",
                   ordering="target__connected_organization__display_name")
    def organisation(self, assignment: Assignment) -> str:
        return str(assignment.target.connected_organization or "—")

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("export/", wrap(self.export_view), name=self._url_name("export")),
            path("<path:object_id>/remove/", wrap(self.remove_view),
                 name=self._url_name("remove")),
            path("<path:object_id>/reprocess/", wrap(self.reprocess_view),
                 name=self._url_name("reprocess")),
            *super().get_urls(),
        ]

    # Assign directly: the add page, with a form of its own that calls the service.

    def add_view(self, request, form_url="", extra_context=None):
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = AssignDirectlyForm(request.user, request.POST or None,
                                  initial=request.GET.dict())

        def assign(data):
            added = request_admin_add(
                actor=request.user, access_package_id=data["access_package"].pk,
                policy_id=data["policy"].pk, target=form.person,
                justification=data["justification"], start_at=data["start_at"],
                end_at=data["end_at"])
            if added.assignment_id:
                messages.success(request, f"{form.person} now has “{added.access_package}"
                                          "”; its resource roles are being delivered.")
                return HttpResponseRedirect(self._change_url(added.assignment))
            messages.success(request, f"“{added.access_package}” for {form.person} is "
                                      f"scheduled: {added.status}.")
            return HttpResponseRedirect(reverse("admin:governance_assignmentrequest_change",
                                                args=[added.pk]))

        return assign_page(self, request, form, assign, {
            "title": "Assign directly", "submit_label": "Assign",
            "intro": "Gives the access package to one person now, under the policy you "
                     "choose. Separation of duties and duplicates are checked as for any "
                     "request.",
            "bulk_url": reverse("admin:governance_bulkassignmentjob_add"),
            **(extra_context or {})})

    # Remove and reprocess, one at a time from the assignment's page.

    def remove_view(self, request, object_id):
        assignment, redirect = self._object_or_redirect(request, object_id)
        if redirect:
            return redirect
        if request.method == "POST":
            try:
                request_remove(actor=request.user, assignment_id=assignment.pk,
                               justification=request.POST.get("justification", "").strip(),
                               as_admin=True)
            except Refused as refusal:
                messages.error(request, refusal.message)
            else:
                messages.success(request, f"Access removed: {assignment}.")
            return HttpResponseRedirect(self._change_url(assignment))
        context = {**self.admin_site.each_context(request), "opts": self.opts,
                   "title": "Remove access", "object": assignment, "assignments": [assignment],
                   "change_url": self._change_url(assignment)}
        return TemplateResponse(request, "admin/governance/assignment/remove.html", context)

    def reprocess_view(self, request, object_id):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        assignment, redirect = self._object_or_redirect(request, object_id)
        if redirect:
            return redirect
        try:
            count = delivery_reprocess(actor=request.user, assignment_id=assignment.pk)
        except Refused as refusal:
            messages.error(request, refusal.message)
        else:
            messages.success(request, reprocess_message(count))
        return HttpResponseRedirect(self._change_url(assignment))

    # The same, for the rows ticked in the list.

    @admin.action(description="Reprocess failed deliveries", permissions=["assignments"])
    def reprocess_selected(self, request, queryset):
        done, refused = [], []
        for assignment in queryset:
            try:
                count = delivery_reprocess(actor=request.user, assignment_id=assignment.pk)
            except Refused as refusal:
                refused.append((assignment, refusal))
            else:
                done.append(f"{assignment} ({count} role(s))")
        report_outcomes(request, done, refused, "Reprocessed")

    @admin.action(description="Remove access", permissions=["assignments"])
    def remove_selected(self, request, queryset):
        assignments = list(queryset.select_related("target", "access_package"))
        if request.POST.get("post") != "yes":
            context = {**self.admin_site.each_context(request), "opts": self.opts,
                       "title": "Remove access", "assignments": assignments,
                       "action": "remove_selected",
                       "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME}
            return TemplateResponse(request, "admin/governance/assignment/remove.html",
                                    context)
        done, refused = [], []
        for assignment in assignments:
            try:
                request_remove(actor=request.user, assignment_id=assignment.pk,
                               justification=request.POST.get("justification", "").strip(),
                               as_admin=True)
            except Refused as refusal:
                refused.append((assignment, refusal))
            else:
                done.append(str(assignment))
        report_outcomes(request, done, refused, "Access removed")
        return None

    # CSV export of the list as filtered and searched.

    EXPORT_HEADER = ["Person", "Email", "Organisation", "Access package", "Catalog", "Policy",
                     "State", "Starts", "Expires", "Created", "Ended"]

    def export_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            changelist = self.get_changelist_instance(request)
        except IncorrectLookupParameters:
            return HttpResponseRedirect(reverse("admin:governance_assignment_changelist")
                                        + "?e=1")
        rows = changelist.get_queryset(request).select_related(
            "target__connected_organization", "access_package__catalog", "policy")

        def values():
            for a in rows.iterator(chunk_size=2000):
                yield [a.target.display_name, a.target.email, a.target.connected_organization
                       or "", a.access_package, a.access_package.catalog, a.policy or "",
                       a.get_state_display(), _iso(a.start_at), _iso(a.expires_at),
                       _iso(a.created_at), _iso(a.ended_at)]

        stamp = timezone.localtime(clock.now()).strftime("%Y-%m-%d-%H%M")
        return csv_response(f"assignments-{stamp}.csv", self.EXPORT_HEADER, values())
