"""The admin pages of a job that works through an uploaded CSV file (bulk assignment, people
import): the job's page, the progress fragment it polls (htmx) until the job is done, and the
CSV report of the rows it rejected.

Each job's admin adds its upload page (its own form and service) and names its report file;
the job's page is `admin/governance/<model>/job.html`, which includes the shared fragment.
"""

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.text import capfirst

from governance.admin.csv_export import csv_response
from governance.choices import BulkJobState
from governance.models.csv_job import CsvJob

# Rejected rows shown on the page; all of them are in the CSV report.
SHOWN_ROWS = 500


class CsvJobAdmin:
    """Before the model admin in the bases: a job is never changed, only followed."""

    # The report's file name, before "-<job id>.csv".
    report_name = "rejected-rows"
    # Said above the rejected rows, if anything.
    rejected_note = ""

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="Processed")
    def progress(self, job: CsvJob) -> str:
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

    def queued(self, request, job: CsvJob) -> HttpResponseRedirect:
        """After an upload: to the job's page, which shows how far it is."""
        messages.success(request, f"{job.total:,} rows of “{job.file_name}” are queued; this "
                                  "page shows how far they are.")
        return HttpResponseRedirect(reverse(
            f"admin:{self.opts.app_label}_{self.opts.model_name}_change", args=[job.pk]))

    def _job(self, request, object_id) -> CsvJob:
        job = self.get_object(request, unquote(object_id))
        if job is None:
            raise Http404("No such job.")
        return job

    def _job_context(self, job: CsvJob) -> dict:
        rejected = job.rows.filter(outcome=job.row_outcomes.REJECTED).order_by("line")
        return {"job": job, "rejected_rows": rejected[:SHOWN_ROWS],
                "more_rejected": max(job.rejected - SHOWN_ROWS, 0),
                "not_processed": (job.total - job.processed
                                  if job.state == BulkJobState.FAILED else 0),
                "rejected_note": self.rejected_note}

    def change_view(self, request, object_id, form_url="", extra_context=None):
        job = self.get_object(request, unquote(object_id))
        if job is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        context = {**self.admin_site.each_context(request), "opts": self.opts,
                   "title": f"{capfirst(self.opts.verbose_name)}: {job.file_name}",
                   "original": job, **self._job_context(job)}
        return TemplateResponse(
            request, f"admin/{self.opts.app_label}/{self.opts.model_name}/job.html", context)

    def progress_view(self, request, object_id):
        job = self._job(request, object_id)
        return TemplateResponse(request, "admin/governance/fragment_csv_job_progress.html",
                                {"opts": self.opts, **self._job_context(job)})

    def report_view(self, request, object_id):
        job = self._job(request, object_id)
        outcomes = job.row_outcomes
        rows = job.rows.filter(outcome__in=[outcomes.REJECTED, outcomes.PENDING]) \
            .order_by("line").values_list("line", "email", "outcome", "code", "reason")
        outcome = dict(outcomes.choices)
        return csv_response(
            f"{self.report_name}-{job.pk}.csv", ["Line", "Email", "Outcome", "Code", "Reason"],
            ((line, email, outcome[state], code, reason)
             for line, email, state, code, reason in rows.iterator(chunk_size=2000)))
