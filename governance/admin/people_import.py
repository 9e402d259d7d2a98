"""People imported from a CSV file in the admin: upload it, follow the worker's progress, read
and download the rows it rejected. For global administrators and user administrators.

The upload goes to `people_import_start`, which checks the file and queues the job; the job's
page polls a fragment (htmx) until the job is done. As governance.admin.bulk_assignments.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from governance.admin.csv_export import csv_response
from governance.admin.people import UserAdministrators
from governance.admin.scoped import AuditedAdmin
from governance.admin.site import admin_site
from governance.choices import BulkJobState
from governance.choices.people import PeopleImportOutcome
from governance.models import PeopleImportJob
from governance.services.errors import RefusalFormMixin, Refused
from governance.services.people_import import (
    COLUMN_NAMES,
    MAX_BYTES,
    MAX_ROWS,
    people_import_start,
)

# Rejected rows shown on the page; all of them are in the CSV report.
SHOWN_ROWS = 500


class PeopleImportForm(RefusalFormMixin, forms.Form):
    file = forms.FileField(
        label="CSV file", widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
        help_text=(f"UTF-8, at most {MAX_BYTES // 1024 // 1024} MB and {MAX_ROWS:,} rows. The "
                   f"first line names the columns: email (required), and any of "
                   f"{', '.join(COLUMN_NAMES[1:])}. manager_email is the manager's address, "
                   "in the file or already in the directory; active is true or false."))


@admin.register(PeopleImportJob, site=admin_site)
class PeopleImportJobAdmin(UserAdministrators, AuditedAdmin):
    list_display = ["created_at", "file_name", "created_by", "state", "progress", "created",
                    "updated", "unchanged", "rejected"]
    list_filter = ["state"]
    list_select_related = ["created_by"]
    search_fields = ["file_name", "created_by__email"]
    actions = None

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="Processed")
    def progress(self, job: PeopleImportJob) -> str:
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
        form = PeopleImportForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            try:
                job = people_import_start(actor=request.user, upload=form.cleaned_data["file"])
            except Refused as refusal:
                form.add_refusal(refusal)
            else:
                messages.success(request, f"{job.total:,} rows of “{job.file_name}” are "
                                          "queued; this page shows how far they are.")
                return HttpResponseRedirect(reverse(
                    "admin:governance_peopleimportjob_change", args=[job.pk]))
        context = {**self.admin_site.each_context(request), "opts": self.opts, "form": form,
                   "title": "Import people from CSV", **(extra_context or {})}
        return TemplateResponse(request, "admin/governance/peopleimportjob/upload.html",
                                context)

    def _job(self, request, object_id) -> PeopleImportJob:
        job = self.get_object(request, unquote(object_id))
        if job is None:
            raise Http404("No such job.")
        return job

    def _job_context(self, job: PeopleImportJob) -> dict:
        rejected = job.rows.filter(outcome=PeopleImportOutcome.REJECTED).order_by("line")
        return {"job": job, "rejected_rows": rejected[:SHOWN_ROWS],
                "more_rejected": max(job.rejected - SHOWN_ROWS, 0),
                "not_processed": (job.total - job.processed
                                  if job.state == BulkJobState.FAILED else 0)}

    def change_view(self, request, object_id, form_url="", extra_context=None):
        job = self.get_object(request, unquote(object_id))
        if job is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        context = {**self.admin_site.each_context(request), "opts": self.opts,
                   "title": f"People import: {job.file_name}", "original": job,
                   **self._job_context(job)}
        return TemplateResponse(request, "admin/governance/peopleimportjob/job.html", context)

    def progress_view(self, request, object_id):
        job = self._job(request, object_id)
        return TemplateResponse(request,
                                "admin/governance/peopleimportjob/fragment_progress.html",
                                {"opts": self.opts, **self._job_context(job)})

    def report_view(self, request, object_id):
        job = self._job(request, object_id)
        rows = job.rows.filter(outcome__in=[PeopleImportOutcome.REJECTED,
                                            PeopleImportOutcome.PENDING]) \
            .order_by("line").values_list("line", "email", "outcome", "code", "reason")
        outcome = dict(PeopleImportOutcome.choices)
        return csv_response(
            f"rejected-people-{job.pk}.csv", ["Line", "Email", "Outcome", "Code", "Reason"],
            ((line, email, outcome[state], code, reason)
             for line, email, state, code, reason in rows.iterator(chunk_size=2000)))
