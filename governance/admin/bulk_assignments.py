"""Bulk assignment in the admin: upload a CSV file, follow the worker's progress, read and
download the report of rejected rows.

The upload goes to `bulk_assignment_start`, which checks the file and queues the job; the
job's page, its progress and its report are governance.admin.csv_jobs.
"""

from django.contrib import admin
from django.core.exceptions import PermissionDenied

from governance.admin.assignment_forms import BulkUploadForm, assign_page
from governance.admin.csv_jobs import CsvJobAdmin
from governance.admin.scoped import ScopedAdmin
from governance.admin.site import admin_site
from governance.models import BulkAssignmentJob
from governance.selectors.permissions import Capability
from governance.services.bulk_assignments import bulk_assignment_start


@admin.register(BulkAssignmentJob, site=admin_site)
class BulkAssignmentJobAdmin(CsvJobAdmin, ScopedAdmin):
    view_capability = Capability.READ
    change_capability = Capability.ASSIGNMENTS
    list_display = ["created_at", "file_name", "access_package", "policy", "created_by",
                    "state", "progress", "assigned", "rejected"]
    list_filter = ["state", ("access_package", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["access_package", "policy", "created_by"]
    search_fields = ["file_name", "created_by__email"]

    def add_view(self, request, form_url="", extra_context=None):
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = BulkUploadForm(request.user, request.POST or None, request.FILES or None,
                              initial=request.GET.dict())

        def start(data):
            return self.queued(request, bulk_assignment_start(
                actor=request.user, access_package_id=data["access_package"].pk,
                policy_id=data["policy"].pk, upload=data["file"],
                justification=data["justification"]))

        return assign_page(self, request, form, start, {
            "title": "Assign from a CSV file", "submit_label": "Upload and assign",
            "multipart": True,
            "intro": "Each person in the file gets the access package under the policy you "
                     "choose, as with a direct assignment. The good rows are assigned, and "
                     "each rejected row is reported with its line and reason.",
            **(extra_context or {})})
