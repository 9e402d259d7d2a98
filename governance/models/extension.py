"""Custom extensions: signed HTTP callouts at stages of a request or an assignment."""

from django.db import models

from governance.choices import CalloutStatus, CustomExtensionBehavior, CustomExtensionStage
from governance.models.fields import CreatedAtField
from governance.models.system import SecretHolder
from governance.models.visibility import CatalogOwned


class CustomExtension(CatalogOwned, SecretHolder):
    """An endpoint of a catalog called at policy stages; the secret signs the body (HMAC)."""

    catalog_path = "catalog_id"

    catalog = models.ForeignKey("governance.Catalog", on_delete=models.PROTECT,
                                related_name="custom_extensions")
    display_name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    endpoint_url = models.URLField("endpoint URL", max_length=500)
    behavior = models.CharField(max_length=20, choices=CustomExtensionBehavior,
                                default=CustomExtensionBehavior.LAUNCH_AND_CONTINUE)
    # How long a launch-and-wait callout may hold the request (Graph: timeoutDuration).
    callback_timeout = models.DurationField(null=True, blank=True)
    created_at = CreatedAtField()

    class Meta:
        ordering = ["display_name"]

    def __str__(self):
        return self.display_name


class PolicyExtensionStage(CatalogOwned):
    """Graph's customExtensionStageSetting: call this extension at this stage of the policy."""

    catalog_path = "policy__access_package__catalog_id"

    policy = models.ForeignKey("governance.AssignmentPolicy", on_delete=models.CASCADE,
                               related_name="extension_stages")
    stage = models.CharField(max_length=40, choices=CustomExtensionStage)
    extension = models.ForeignKey(CustomExtension, on_delete=models.PROTECT,
                                  related_name="policy_stages")

    class Meta:
        ordering = ["policy_id", "stage"]
        constraints = [models.UniqueConstraint(fields=["policy", "stage"],
                                               name="one_extension_per_policy_stage")]

    def __str__(self):
        return f"{self.extension} at {self.get_stage_display().lower()}"


class ExtensionCallout(CatalogOwned):
    """One launch of an extension (Graph's customExtensionCalloutInstance).

    The body is fixed when the event happens; the outbox sends it, signed, and retries.
    """

    catalog_path = "extension__catalog_id"

    extension = models.ForeignKey(CustomExtension, on_delete=models.PROTECT,
                                  related_name="callouts")
    stage = models.CharField(max_length=40, choices=CustomExtensionStage)
    request = models.ForeignKey("governance.AssignmentRequest", null=True, blank=True,
                                on_delete=models.CASCADE, related_name="callouts")
    assignment = models.ForeignKey("governance.Assignment", null=True, blank=True,
                                   on_delete=models.CASCADE, related_name="callouts")
    waits = models.BooleanField(default=False)
    status = models.CharField(max_length=20, choices=CalloutStatus, default=CalloutStatus.QUEUED)
    detail = models.TextField(blank=True)
    body = models.JSONField(default=dict)
    created_at = models.DateTimeField()
    callback_due_at = models.DateTimeField(null=True, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "callback_due_at"])]

    def __str__(self):
        return f"{self.extension} at {self.get_stage_display().lower()}"
