"""What shapes the emails: administrators' template overrides, approvers' out-of-office."""

from django.conf import settings
from django.db import models


class EmailTemplate(models.Model):
    """An administrator's version of one email, for one language or (blank) for all."""

    topic = models.CharField(max_length=60)
    language = models.CharField(max_length=10, blank=True, choices=settings.LANGUAGES,
                                help_text="Blank: for everyone without a version in their "
                                          "own language.")
    subject = models.CharField(max_length=300)
    text_body = models.TextField()
    # Blank: the text body, with its links, inside the standard HTML layout.
    html_body = models.TextField(blank=True)
    updated_at = models.DateTimeField()
    updated_by = models.ForeignKey("governance.User", null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["topic", "language"]
        constraints = [models.UniqueConstraint(fields=["topic", "language"],
                                               name="one_email_template_per_language")]

    def __str__(self):
        return f"{self.topic} ({self.language or 'all languages'})"


class ApprovalDelegation(models.Model):
    """Out of office: approvals created between `starts_at` and `ends_at` also go to `delegate`."""

    approver = models.ForeignKey("governance.User", on_delete=models.CASCADE,
                                 related_name="approval_delegations")
    delegate = models.ForeignKey("governance.User", on_delete=models.CASCADE,
                                 related_name="approval_delegations_received")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["approver_id", "starts_at"]
        constraints = [
            models.CheckConstraint(name="delegation_ends_after_start",
                                   condition=models.Q(ends_at__gt=models.F("starts_at"))),
            models.CheckConstraint(name="delegation_not_to_oneself",
                                   condition=~models.Q(delegate=models.F("approver"))),
        ]
        indexes = [models.Index(fields=["approver", "ends_at"])]

    def __str__(self):
        return f"{self.approver} → {self.delegate}"
