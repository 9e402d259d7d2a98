"""People imported from a CSV file: one uploaded file and its rows.

Each row keeps its line in the file, the values it sets (keyed as the people services name
them) and the address of the person's manager, and, once a worker has tried it, its outcome
and the reason of a refusal. `rank` orders the rows so that a manager is imported before the
people they manage: 0 for a row whose manager is not in the file, one more than the
manager's row otherwise. Rows still pending are what is left to do, so a job resumes where
it stopped.
"""

from django.db import models

from governance.choices.people import PeopleImportOutcome
from governance.models.csv_job import CsvJob, CsvJobRow


class PeopleImportJob(CsvJob):
    counts = ("created", "updated", "unchanged")
    row_outcomes = PeopleImportOutcome

    created_by = models.ForeignKey("governance.User", on_delete=models.PROTECT,
                                   related_name="people_import_jobs")
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)

    class Meta(CsvJob.Meta):
        verbose_name = "people import"
        indexes = [models.Index(fields=["state", "heartbeat_at"],
                                name="people_import_state_beat")]

    def __str__(self):
        return self.file_name


class PeopleImportRow(CsvJobRow):
    job = models.ForeignKey(PeopleImportJob, on_delete=models.CASCADE, related_name="rows")
    manager_email = models.CharField(max_length=254, blank=True)
    # What the row sets, by the names of governance.services.people.PERSON_FIELDS (blank
    # cells are left out: they change nothing).
    values = models.JSONField(default=dict, blank=True)
    rank = models.PositiveIntegerField(default=0)
    outcome = models.CharField(max_length=9, choices=PeopleImportOutcome,
                               default=PeopleImportOutcome.PENDING)
    person = models.ForeignKey("governance.User", null=True, blank=True,
                               on_delete=models.SET_NULL, related_name="+")

    class Meta(CsvJobRow.Meta):
        constraints = [models.UniqueConstraint(fields=["job", "line"],
                                               name="one_people_import_row_per_line")]
        indexes = [models.Index(fields=["job", "outcome", "rank", "line"],
                                name="people_import_row_next")]
