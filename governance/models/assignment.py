"""Assignments (a person holding a package) and per-role delivery into the target systems."""

from django.db import models

from governance.choices import (
    ASSIGNMENT_ACTIVE,
    AssignmentState,
    DeliveryAction,
    DeliveryState,
    EndReason,
)
from governance.models.visibility import CatalogOwned


class Assignment(CatalogOwned):
    catalog_path = "access_package__catalog_id"

    access_package = models.ForeignKey("governance.AccessPackage", on_delete=models.PROTECT,
                                       related_name="assignments")
    policy = models.ForeignKey("governance.AssignmentPolicy", null=True, blank=True,
                               on_delete=models.PROTECT, related_name="assignments")
    target = models.ForeignKey("governance.User", on_delete=models.PROTECT,
                               related_name="assignments")
    state = models.CharField(max_length=20, choices=AssignmentState,
                             default=AssignmentState.DELIVERING)
    status = models.CharField(max_length=200, blank=True)
    start_at = models.DateTimeField()
    expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=20, choices=EndReason, blank=True)
    warned_14_days_at = models.DateTimeField(null=True, blank=True)
    warned_1_day_at = models.DateTimeField(null=True, blank=True)
    # An automatic policy's assignment whose person no longer matches the rule: it ends then,
    # unless they match again before (governance.services.automatic).
    rule_removal_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["target", "access_package"],
                condition=models.Q(state__in=ASSIGNMENT_ACTIVE),
                name="one_active_assignment_per_target_and_package",
            ),
        ]
        indexes = [models.Index(fields=["state", "expires_at"]),
                   models.Index(fields=["rule_removal_at"], name="assignment_rule_removal",
                                condition=models.Q(rule_removal_at__isnull=False))]

    def __str__(self):
        return f"{self.access_package} for {self.target}"

    @property
    def is_active(self) -> bool:
        return self.state in ASSIGNMENT_ACTIVE


class RoleDelivery(CatalogOwned):
    """Where one resource role of an assignment stands in its target system."""

    catalog_path = "assignment__access_package__catalog_id"

    assignment = models.ForeignKey(Assignment, on_delete=models.CASCADE,
                                   related_name="deliveries")
    role = models.ForeignKey("governance.ResourceRole", on_delete=models.PROTECT,
                             related_name="deliveries")
    action = models.CharField(max_length=6, choices=DeliveryAction, default=DeliveryAction.GRANT)
    state = models.CharField(max_length=8, choices=DeliveryState, default=DeliveryState.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    # Why nothing was done, in words: "Kept: still granted by Sales (assignment 12)".
    note = models.CharField(max_length=300, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["assignment_id", "role_id"]
        constraints = [models.UniqueConstraint(fields=["assignment", "role"],
                                               name="one_delivery_per_assignment_role")]
        indexes = [models.Index(fields=["state", "next_attempt_at"])]

    def __str__(self):
        return f"{self.get_action_display()} {self.role}"
