"""People imported from a CSV file in the admin: upload it, follow the worker's progress, read
and download the rows it rejected. For global administrators and user administrators.

The upload goes to `people_import_start`, which checks the file and queues the job; the job's
page, its progress and its report are governance.admin.csv_jobs, as for the bulk assignment.
"""

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse

from governance.admin.csv_jobs import CsvJobAdmin
from governance.admin.people import UserAdministrators
from governance.admin.scoped import AuditedAdmin
from governance.admin.site import admin_site
from governance.models import PeopleImportJob
from governance.services.errors import RefusalFormMixin, Refused
from governance.services.people_import import (
    COLUMN_NAMES,
    MAX_BYTES,
    MAX_ROWS,
    people_import_start,
)


class PeopleImportForm(RefusalFormMixin, forms.Form):
    file = forms.FileField(
        label="CSV file", widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
        help_text=(f"UTF-8, at most {MAX_BYTES // 1024 // 1024} MB and {MAX_ROWS:,} rows. The "
                   f"first line names the columns: email (required), and any of "
                   f"{', '.join(COLUMN_NAMES[1:])}. manager_email is the manager's address, "
                   "in the file or already in the directory; active is true or false."))


@admin.register(PeopleImportJob, site=admin_site)
class PeopleImportJobAdmin(CsvJobAdmin, UserAdministrators, AuditedAdmin):
    list_display = ["created_at", "file_name", "created_by", "state", "progress", "created",
                    "updated", "unchanged", "rejected"]
    list_filter = ["state"]
    list_select_related = ["created_by"]
    search_fields = ["file_name", "created_by__email"]
    actions = None
    report_name = "rejected-people"
    rejected_note = ("Nothing of a rejected row was written; correct it and import the file "
                     "again (the rows already imported are updated, not duplicated).")

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
                return self.queued(request, job)
        context = {**self.admin_site.each_context(request), "opts": self.opts, "form": form,
                   "title": "Import people from CSV", **(extra_context or {})}
        return TemplateResponse(request, "admin/governance/peopleimportjob/upload.html",
                                context)
