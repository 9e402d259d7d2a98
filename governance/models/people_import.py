"""People imported from a CSV file: one uploaded file and its rows.

Each row keeps its line in the file, the values it sets (keyed as the people services name
them) and the address of the person's manager, and, once a worker has tried it, its outcome
and the reason of a refusal. `rank` orders the rows so that a manager is imported before the
people they manage: 0 for a row whose manager is not in the file, one more than the
manager's row otherwise. Rows still pending are what is left to do, so a job resumes where
it stopped.
"""

from django.db import models

from governance.choices import BULK_JOB_OPEN, BulkJobState
from governance.choices.people import PeopleImportOutcome


class PeopleImportJob(models.Model):
    created_by = models.ForeignKey("governance.User", on_delete=models.PROTECT,
                                   related_name="people_import_jobs")
    state = models.CharField(max_length=8, choices=BulkJobState, default=BulkJobState.QUEUED)
    file_name = models.CharField(max_length=255)
    total = models.PositiveIntegerField(default=0)
    processed = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    # Why a failed job stopped (its remaining rows stay pending).
    error = models.TextField(blank=True)
    created_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    # The last batch a worker finished: a running job whose heartbeat is old lost its worker.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "people import"
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["state", "heartbeat_at"],
                                name="people_import_state_beat")]

    def __str__(self):
        return self.file_name

    @property
    def is_open(self) -> bool:
        return self.state in BULK_JOB_OPEN

    @property
    def percent(self) -> int:
        return 100 if not self.total else self.processed * 100 // self.total


class PeopleImportRow(models.Model):
    job = models.ForeignKey(PeopleImportJob, on_delete=models.CASCADE, related_name="rows")
    # The line of the file where the row starts (the header is line 1).
    line = models.PositiveIntegerField()
    email = models.CharField(max_length=254)
    manager_email = models.CharField(max_length=254, blank=True)
    # What the row sets, by the names of governance.services.people.PERSON_FIELDS (blank
    # cells are left out: they change nothing).
    values = models.JSONField(default=dict, blank=True)
    rank = models.PositiveIntegerField(default=0)
    outcome = models.CharField(max_length=9, choices=PeopleImportOutcome,
                               default=PeopleImportOutcome.PENDING)
    # The refusal's stable code (invalidEmail, managerNotFound, managerCycle, …).
    code = models.CharField(max_length=40, blank=True)
    reason = models.TextField(blank=True)
    person = models.ForeignKey("governance.User", null=True, blank=True,
                               on_delete=models.SET_NULL, related_name="+")
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["job_id", "line"]
        constraints = [models.UniqueConstraint(fields=["job", "line"],
                                               name="one_people_import_row_per_line")]
        indexes = [models.Index(fields=["job", "outcome", "rank", "line"],
                                name="people_import_row_next")]

    def __str__(self):
        return f"Line {self.line}: {self.email}"
