"""Bulk assignment: one uploaded CSV file of people to assign a package to, and its rows.

Each row keeps its line in the file and, once a worker has tried it, its outcome and the
reason of a refusal; rows still pending are what is left to do, so a job resumes where it
stopped.
"""

from django.db import models

from governance.choices import BulkRowOutcome
from governance.models.csv_job import CsvJob, CsvJobRow
from governance.models.visibility import CatalogOwned


class BulkAssignmentJob(CatalogOwned, CsvJob):
    catalog_path = "access_package__catalog_id"
    counts = ("assigned",)
    row_outcomes = BulkRowOutcome

    access_package = models.ForeignKey("governance.AccessPackage", on_delete=models.PROTECT,
                                       related_name="bulk_assignment_jobs")
    policy = models.ForeignKey("governance.AssignmentPolicy", on_delete=models.PROTECT,
                               related_name="bulk_assignment_jobs")
    created_by = models.ForeignKey("governance.User", on_delete=models.PROTECT,
                                   related_name="bulk_assignment_jobs")
    # For the rows without a justification of their own.
    justification = models.TextField(blank=True)
    assigned = models.PositiveIntegerField(default=0)

    class Meta(CsvJob.Meta):
        verbose_name = "bulk assignment"
        indexes = [models.Index(fields=["state", "heartbeat_at"])]

    def __str__(self):
        return f"{self.file_name} → {self.access_package}"


class BulkAssignmentRow(CsvJobRow):
    job = models.ForeignKey(BulkAssignmentJob, on_delete=models.CASCADE, related_name="rows")
    justification = models.TextField(blank=True)
    start_at = models.DateTimeField(null=True, blank=True)
    end_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=8, choices=BulkRowOutcome,
                               default=BulkRowOutcome.PENDING)
    request = models.ForeignKey("governance.AssignmentRequest", null=True, blank=True,
                                on_delete=models.SET_NULL, related_name="+")

    class Meta(CsvJobRow.Meta):
        constraints = [models.UniqueConstraint(fields=["job", "line"],
                                               name="one_bulk_row_per_line")]
        indexes = [models.Index(fields=["job", "outcome", "line"])]
