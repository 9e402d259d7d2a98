"""A run of an automatic policy's rule over everyone: the background job a rule change (or
the reconciliation sweep) starts, with its progress, so the admin can show how far it is."""

from django.db import models

from governance.choices import BULK_JOB_OPEN, BulkJobState
from governance.models.visibility import CatalogOwned


class RuleEvaluation(CatalogOwned):
    catalog_path = "policy__access_package__catalog_id"

    policy = models.ForeignKey("governance.AssignmentPolicy", on_delete=models.CASCADE,
                               related_name="rule_evaluations")
    actor = models.ForeignKey("governance.User", null=True, blank=True,
                              on_delete=models.SET_NULL, related_name="+")
    # What the run applies: the rule as it was saved when the run was queued.
    membership_rule = models.TextField()
    state = models.CharField(max_length=8, choices=BulkJobState, default=BulkJobState.QUEUED)
    matched = models.PositiveIntegerField(default=0)
    added = models.PositiveIntegerField(default=0)
    removal_scheduled = models.PositiveIntegerField(default=0)
    removal_canceled = models.PositiveIntegerField(default=0)
    removed = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["state", "created_at"])]

    def __str__(self):
        return f"Rule of {self.policy} ({self.get_state_display().lower()})"

    @property
    def is_open(self) -> bool:
        return self.state in BULK_JOB_OPEN
