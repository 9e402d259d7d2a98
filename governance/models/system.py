"""Target systems that connectors deliver into, and people's accounts in them."""

from django.db import models

from governance.choices import AccountAction, AccountState, SystemKind
from governance.models.fields import CreatedAtField
from governance.security import secrets


class SecretHolder(models.Model):
    """A secret named by an environment variable, or stored encrypted; never shown back."""

    secret_env = models.CharField(
        "secret from environment variable", max_length=100, blank=True,
        help_text="Name of the variable (or NAME_FILE) holding the secret on the servers.")
    secret_encrypted = models.TextField(blank=True, editable=False)

    class Meta:
        abstract = True

    @property
    def has_secret(self) -> bool:
        return bool(self.secret_env or self.secret_encrypted)

    def secret(self) -> str:
        """:raises secrets.SecretUnavailable: with what to fix."""
        return secrets.resolve(env_name=self.secret_env, encrypted=self.secret_encrypted)

    # Django's templates call what they find: `{{ system.secret }}` in any template (an
    # admin page, an email) would print the secret. This keeps it a method they never call.
    secret.do_not_call_in_templates = True


class TargetSystem(SecretHolder):
    """A SCIM application or a Microsoft Entra tenant that resources' roles are delivered to.

    The secret is the SCIM bearer token, or the Entra application's client secret.
    """

    display_name = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=10, choices=SystemKind)
    # SCIM: the service's base URL. Entra: the Graph base URL.
    base_url = models.URLField("base URL", max_length=500)
    # Entra only: the token authority (https://login.microsoftonline.com/<tenant id>) and the
    # application (client) id.
    authority = models.URLField(max_length=500, blank=True)
    client_id = models.CharField("client ID", max_length=200, blank=True)
    last_checked_at = models.DateTimeField(null=True, blank=True)
    last_check_ok = models.BooleanField(null=True)
    last_check_message = models.TextField(blank=True)
    last_refreshed_at = models.DateTimeField(null=True, blank=True)
    created_at = CreatedAtField()

    class Meta:
        ordering = ["display_name"]

    def __str__(self):
        return self.display_name


class SystemAccount(models.Model):
    """A person's account in a target system: its id there, and any change still to make."""

    system = models.ForeignKey(TargetSystem, on_delete=models.CASCADE, related_name="accounts")
    user = models.ForeignKey("governance.User", on_delete=models.CASCADE,
                             related_name="system_accounts")
    external_id = models.CharField(max_length=200)
    state = models.CharField(max_length=10, choices=AccountState, default=AccountState.ACTIVE)
    # A block, unblock or delete the workers still have to carry out.
    pending_action = models.CharField(max_length=10, choices=AccountAction, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    created_at = CreatedAtField()

    class Meta:
        ordering = ["system_id", "user_id"]
        constraints = [models.UniqueConstraint(fields=["system", "user"],
                                               name="one_account_per_system_and_user")]
        indexes = [models.Index(fields=["pending_action", "next_attempt_at"])]

    def __str__(self):
        return f"{self.user} in {self.system}"
