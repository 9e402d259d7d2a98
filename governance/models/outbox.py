"""Side effects stored before they happen: emails now, webhooks later."""

from django.db import models

from governance.choices import OutboxState


class OutboxMessage(models.Model):
    class Channel(models.TextChoices):
        EMAIL = "email", "Email"
        WEBHOOK = "webhook", "Webhook"

    channel = models.CharField(max_length=10, choices=Channel, default=Channel.EMAIL)
    topic = models.CharField(max_length=60)
    recipient = models.ForeignKey("governance.User", null=True, blank=True,
                                  on_delete=models.SET_NULL, related_name="+")
    to_address = models.CharField(max_length=500)
    # Ids only: the message is rendered from the current rows when it is sent.
    payload = models.JSONField(default=dict)
    # Makes "queue this once" a database fact, e.g. "expiring:14:<assignment>:<expiry>".
    dedupe_key = models.CharField(max_length=200, null=True, blank=True, unique=True)
    state = models.CharField(max_length=12, choices=OutboxState, default=OutboxState.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField()
    next_attempt_at = models.DateTimeField()
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["state", "next_attempt_at"])]

    def __str__(self):
        return f"{self.topic} to {self.to_address}"
