"""Bulk assignment in the admin: upload a CSV file, follow the worker's progress, read and
download the report of rejected rows.

The upload goes to `bulk_assignment_start`, which checks the file and queues the job; the
job's page polls a fragment (htmx) until the job is done.
"""

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from governance.admin.assignment_forms import BulkUploadForm, assign_page
from governance.admin.csv_export import csv_response
from governance.admin.scoped import ScopedAdmin
from governance.admin.site import admin_site
from governance.choices import BulkJobState, BulkRowOutcome
from governance.models import BulkAssignmentJob
from governance.selectors.permissions import Capability
from governance.services.bulk_assignments import bulk_assignment_start

# Rejected rows shown on the page; all of them are in the CSV report.
SHOWN_ROWS = 500


@admin.register(BulkAssignmentJob, site=admin_site)
class BulkAssignmentJobAdmin(ScopedAdmin):
    view_capability = Capability.READ
    change_capability = Capability.ASSIGNMENTS
    list_display = ["created_at", "file_name", "access_package", "policy", "created_by",
                    "state", "progress", "assigned", "rejected"]
    list_filter = ["state", ("access_package", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["access_package", "policy", "created_by"]
    search_fields = ["file_name", "created_by__email"]

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="Processed")
    def progress(self, job: BulkAssignmentJob) -> str:
        return f"{job.processed:,} of {job.total:,}"

    def get_urls(self):
        wrap = self.admin_site.admin_view
        info = f"{self.opts.app_label}_{self.opts.model_name}"
        return [
            path("<path:object_id>/progress/", wrap(self.progress_view),
                 name=f"{info}_progress"),
            path("<path:object_id>/rejected.csv", wrap(self.report_view),
                 name=f"{info}_report"),
            *super().get_urls(),
        ]

    def add_view(self, request, form_url="", extra_context=None):
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = BulkUploadForm(request.user, request.POST or None, request.FILES or None,
                              initial=request.GET.dict())

        def start(data):
            job = bulk_assignment_start(
                actor=request.user, access_package_id=data["access_package"].pk,
                policy_id=data["policy"].pk, upload=data["file"],
                justification=data["justification"])
            messages.success(request, f"{job.total:,} rows of “{job.file_name}” are queued; "
                                      "this page shows how far they are.")
            return HttpResponseRedirect(reverse(
                "admin:governance_bulkassignmentjob_change", args=[job.pk]))

        return assign_page(self, request, form, start, {
            "title": "Assign from a CSV file", "submit_label": "Upload and assign",
            "multipart": True,
            "intro": "Each person in the file gets the access package under the policy you "
                     "choose, as with a direct assignment. The good rows are assigned, and "
                     "each rejected row is reported with its line and reason.",
            **(extra_context or {})})

    def _job(self, request, object_id) -> BulkAssignmentJob:
        job = self.get_object(request, unquote(object_id))
        if job is None:
            raise Http404("No such job.")
        return job

    def _job_context(self, job: BulkAssignmentJob) -> dict:
        rejected = job.rows.filter(outcome=BulkRowOutcome.REJECTED).order_by("line")
        return {"job": job, "rejected_rows": rejected[:SHOWN_ROWS],
                "more_rejected": max(job.rejected - SHOWN_ROWS, 0),
                "not_processed": (job.total - job.processed
                                  if job.state == BulkJobState.FAILED else 0)}

    def change_view(self, request, object_id, form_url="", extra_context=None):
        job = self.get_object(request, unquote(object_id))
        if job is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        context = {**self.admin_site.each_context(request), "opts": self.opts,
                   "title": f"Bulk assignment: {job.file_name}", "original": job,
                   **self._job_context(job)}
        return TemplateResponse(request, "admin/governance/bulkassignmentjob/job.html",
                                context)

    def progress_view(self, request, object_id):
        job = self._job(request, object_id)
        return TemplateResponse(request,
                                "admin/governance/bulkassignmentjob/fragment_progress.html",
                                {"opts": self.opts, **self._job_context(job)})

    def report_view(self, request, object_id):
        job = self._job(request, object_id)
        rows = job.rows.filter(outcome__in=[BulkRowOutcome.REJECTED, BulkRowOutcome.PENDING]) \
            .order_by("line").values_list("line", "email", "outcome", "code", "reason")
        outcome = dict(BulkRowOutcome.choices)
        return csv_response(
            f"rejected-rows-{job.pk}.csv", ["Line", "Email", "Outcome", "Code", "Reason"],
            ((line, email, outcome[state], code, reason)
             for line, email, state, code, reason in rows.iterator(chunk_size=2000)))
