"""Access package assignment requests in the admin: what was asked, each stage and its
decision, the answers; canceling and reprocessing, through the services."""


from django.contrib import admin, messages
from django.contrib.admin import RelatedOnlyFieldListFilter
from django.contrib.admin.utils import unquote
from django.db.models import Prefetch
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path
from django.utils.html import format_html_join

from governance import clock
from governance.admin import bulk_assignments  # noqa: F401 - registers the bulk job admin
from governance.admin.assignments import (
    CANCELABLE,
    REPROCESSABLE,
    ActingAdmin,
    ReadOnlyInline,
    report_outcomes,
    reprocess_message,
)
from governance.admin.site import admin_site
from governance.choices import StageState
from governance.models import (
    ApprovalStage,
    AssignmentRequest,
    RequestAnswer,
)
from governance.services.delivery import delivery_reprocess
from governance.services.errors import Refused
from governance.services.requests import request_cancel


class AnswerInline(ReadOnlyInline):
    model = RequestAnswer
    verbose_name_plural = "Answers"
    fields = ["question", "display_value"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("question")


class StageInline(ReadOnlyInline):
    model = ApprovalStage
    verbose_name_plural = "Approval stages"
    fields = ["order", "state", "approver_names", "decision_made", "started_at", "due_at",
              "escalated_at", "completed_at"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("decision__approver") \
            .prefetch_related("stage_approvers__user")

    @admin.display(description="Approvers")
    def approver_names(self, stage: ApprovalStage):
        return format_html_join(", ", "{} ({})", (
            (row.user, row.get_kind_display().lower()) for row in stage.stage_approvers.all()))

    @admin.display(description="Decision")
    def decision_made(self, stage: ApprovalStage) -> str:
        decision = getattr(stage, "decision", None)
        if decision is None:
            return "—"
        who = decision.approver or "nobody in time"
        said = f": “{decision.justification}”" if decision.justification else ""
        when = clock.when_text(decision.decided_at)
        return f"{decision.get_result_display()} by {who}, {when}{said}"


def stage_progress(request: AssignmentRequest) -> str:
    """“Stage 2 of 2 · 1: approved, 2: in progress”, from the prefetched stage rows."""
    stages = sorted(request.stages.all(), key=lambda stage: stage.order)
    if not stages:
        return "No approval"
    current = next((stage for stage in stages if stage.state == StageState.IN_PROGRESS), None) \
        or next((stage for stage in reversed(stages) if stage.state != StageState.NOT_STARTED),
                stages[0])
    states = ", ".join(f"{stage.order}: {stage.get_state_display().lower()}" for stage in stages)
    return f"Stage {current.order} of {len(stages)} · {states}"


@admin.register(AssignmentRequest, site=admin_site)
class AssignmentRequestAdmin(ActingAdmin):
    list_display = ["created_at", "request_type", "state", "access_package", "target",
                    "stages_column"]
    list_filter = ["state", "request_type", ("access_package", RelatedOnlyFieldListFilter),
                   ("policy", RelatedOnlyFieldListFilter)]
    list_select_related = ["access_package", "target"]
    search_fields = ["target__email", "target__display_name", "requestor__email"]
    search_help_text = "Search by the email or name of the person, or the requestor's email."
    show_full_result_count = False
    date_hierarchy = "created_at"
    fields = ["request_type", "state", "status", "access_package", "policy", "requestor",
              "target", "justification", "schedule_start_at", "schedule_end_at",
              "created_at", "completed_at", "assignment", "assignment_state", "stages_column"]
    readonly_fields = fields
    inlines = [AnswerInline, StageInline]
    actions = ["cancel_selected", "reprocess_selected"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related(
            Prefetch("stages", queryset=ApprovalStage.objects.order_by("order")))

    def has_add_permission(self, request):
        return False

    @admin.display(description="Approval")
    def stages_column(self, request: AssignmentRequest) -> str:
        return stage_progress(request)

    @admin.display(description="Assignment now")
    def assignment_state(self, request: AssignmentRequest) -> str:
        assignment = request.assignment
        return assignment.get_state_display() if assignment else "—"

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("<path:object_id>/cancel/", wrap(self.cancel_view),
                 name=self._url_name("cancel")),
            path("<path:object_id>/reprocess/", wrap(self.reprocess_view),
                 name=self._url_name("reprocess")),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, unquote(object_id))
        extra_context = {**(extra_context or {}),
                         "can_cancel": obj is not None and obj.state in CANCELABLE,
                         "can_reprocess": obj is not None and obj.state in REPROCESSABLE
                         and obj.assignment_id is not None}
        return super().change_view(request, object_id, form_url, extra_context)

    def _cancel(self, request, assignment_request) -> Refused | None:
        try:
            request_cancel(actor=request.user, request_id=assignment_request.pk)
        except Refused as refusal:
            return refusal
        return None

    def _reprocess(self, request, assignment_request) -> tuple[int, Refused | None]:
        if assignment_request.state not in REPROCESSABLE or not assignment_request.assignment_id:
            return 0, Refused("Only a request being delivered, or whose delivery failed, can "
                              "be reprocessed.")
        try:
            return delivery_reprocess(actor=request.user,
                                      assignment_id=assignment_request.assignment_id), None
        except Refused as refusal:
            return 0, refusal

    def cancel_view(self, request, object_id):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        assignment_request, redirect = self._object_or_redirect(request, object_id)
        if redirect:
            return redirect
        refusal = self._cancel(request, assignment_request)
        if refusal:
            messages.error(request, refusal.message)
        else:
            messages.success(request, f"Request canceled: {assignment_request}.")
        return HttpResponseRedirect(self._change_url(assignment_request))

    def reprocess_view(self, request, object_id):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        assignment_request, redirect = self._object_or_redirect(request, object_id)
        if redirect:
            return redirect
        count, refusal = self._reprocess(request, assignment_request)
        if refusal:
            messages.error(request, refusal.message)
        else:
            messages.success(request, reprocess_message(count))
        return HttpResponseRedirect(self._change_url(assignment_request))

    @admin.action(description="Cancel request", permissions=["assignments"])
    def cancel_selected(self, request, queryset):
        done, refused = [], []
        for assignment_request in queryset:
            refusal = self._cancel(request, assignment_request)
            if refusal:
                refused.append((assignment_request, refusal))
            else:
                done.append(str(assignment_request))
        report_outcomes(request, done, refused, "Canceled")

    @admin.action(description="Reprocess delivery", permissions=["assignments"])
    def reprocess_selected(self, request, queryset):
        done, refused = [], []
        for assignment_request in queryset:
            count, refusal = self._reprocess(request, assignment_request)
            if refusal:
                refused.append((assignment_request, refusal))
            else:
                done.append(f"{assignment_request} ({count} role(s))")
        report_outcomes(request, done, refused, "Reprocessed")
