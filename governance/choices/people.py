"""The choices of people imported from a CSV file (governance.services.people_import); the job
itself moves through BulkJobState, as a bulk assignment does."""

from django.db import models

__all__ = ["PeopleImportOutcome"]


class PeopleImportOutcome(models.TextChoices):
    PENDING = "pending", "Not processed yet"
    CREATED = "created", "Created"
    UPDATED = "updated", "Updated"
    UNCHANGED = "unchanged", "Unchanged"
    REJECTED = "rejected", "Rejected"
