"""What the jobs that work through an uploaded CSV file share (bulk assignment, people import):
their state, their times, how far their worker is, and the counters every job has.

Each job adds what is its own: who uploaded it (a related name of its own), its settings and
the counters of its rows' outcomes (named in `counts`, besides `rejected`). Its rows derive
from `CsvJobRow` and add a `job` foreign key whose related name is `rows`, an `outcome` of the
job's `row_outcomes`, and what a row of that file holds.
"""

from django.db import models

from governance.choices import BULK_JOB_OPEN, BulkJobState


class CsvJob(models.Model):
    # The counters of the rows' outcomes besides `rejected`, each named as its outcome, e.g.
    # ("assigned",): a batch adds to them, the progress and the job's audit event show them.
    counts: tuple[str, ...] = ()
    # The outcomes of the job's rows; each has PENDING and REJECTED.
    row_outcomes: type[models.TextChoices]

    state = models.CharField(max_length=8, choices=BulkJobState, default=BulkJobState.QUEUED)
    file_name = models.CharField(max_length=255)
    total = models.PositiveIntegerField(default=0)
    processed = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    # Why a failed job stopped (its remaining rows stay pending).
    error = models.TextField(blank=True)
    created_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    # The last batch a worker finished: a running job whose heartbeat is old lost its worker.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True
        ordering = ["-created_at", "-id"]

    @property
    def is_open(self) -> bool:
        return self.state in BULK_JOB_OPEN

    @property
    def percent(self) -> int:
        return 100 if not self.total else self.processed * 100 // self.total

    @property
    def outcome_counts(self) -> dict[str, int]:
        """The counters of `counts`, by name, in their order."""
        return {name: getattr(self, name) for name in self.counts}


class CsvJobRow(models.Model):
    # The line of the file where the row starts (the header is line 1).
    line = models.PositiveIntegerField()
    email = models.CharField(max_length=254)
    # The refusal's stable code: the file's (invalidEmail, duplicateLine, …), the job's
    # (unknownPerson, managerCycle, …) or the service's a row goes through (separationOfDuties, …).
    code = models.CharField(max_length=40, blank=True)
    reason = models.TextField(blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True
        ordering = ["job_id", "line"]

    def __str__(self):
        return f"Line {self.line}: {self.email}"
