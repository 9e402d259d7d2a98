"""Bulk assignment: one uploaded CSV file of people to assign a package to, and its rows.

Each row keeps its line in the file and, once a worker has tried it, its outcome and the
reason of a refusal; rows still pending are what is left to do, so a job resumes where it
stopped.
"""

from django.db import models

from governance.choices import BULK_JOB_OPEN, BulkJobState, BulkRowOutcome
from governance.models.visibility import CatalogOwned


class BulkAssignmentJob(CatalogOwned):
    catalog_path = "access_package__catalog_id"

    access_package = models.ForeignKey("governance.AccessPackage", on_delete=models.PROTECT,
                                       related_name="bulk_assignment_jobs")
    policy = models.ForeignKey("governance.AssignmentPolicy", on_delete=models.PROTECT,
                               related_name="bulk_assignment_jobs")
    created_by = models.ForeignKey("governance.User", on_delete=models.PROTECT,
                                   related_name="bulk_assignment_jobs")
    state = models.CharField(max_length=8, choices=BulkJobState, default=BulkJobState.QUEUED)
    file_name = models.CharField(max_length=255)
    # For the rows without a justification of their own.
    justification = models.TextField(blank=True)
    total = models.PositiveIntegerField(default=0)
    processed = models.PositiveIntegerField(default=0)
    assigned = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    # Why a failed job stopped (its remaining rows stay pending).
    error = models.TextField(blank=True)
    created_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    # The last batch a worker finished: a running job whose heartbeat is old lost its worker.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "bulk assignment"
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["state", "heartbeat_at"])]

    def __str__(self):
        return f"{self.file_name} → {self.access_package}"

    @property
    def is_open(self) -> bool:
        return self.state in BULK_JOB_OPEN

    @property
    def percent(self) -> int:
        return 100 if not self.total else self.processed * 100 // self.total


class BulkAssignmentRow(models.Model):
    job = models.ForeignKey(BulkAssignmentJob, on_delete=models.CASCADE, related_name="rows")
    # The line of the file where the row starts (the header is line 1).
    line = models.PositiveIntegerField()
    email = models.CharField(max_length=254)
    justification = models.TextField(blank=True)
    start_at = models.DateTimeField(null=True, blank=True)
    end_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=8, choices=BulkRowOutcome,
                               default=BulkRowOutcome.PENDING)
    # The refusal's stable code (unknownPerson, separationOfDuties, alreadyAssigned, …).
    code = models.CharField(max_length=40, blank=True)
    reason = models.TextField(blank=True)
    request = models.ForeignKey("governance.AssignmentRequest", null=True, blank=True,
                                on_delete=models.SET_NULL, related_name="+")
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["job_id", "line"]
        constraints = [models.UniqueConstraint(fields=["job", "line"],
                                               name="one_bulk_row_per_line")]
        indexes = [models.Index(fields=["job", "outcome", "line"])]

    def __str__(self):
        return f"Line {self.line}: {self.email}"
