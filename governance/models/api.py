"""Bearer tokens for the REST API: API clients (applications) and people's own tokens.

A token is shown once, when it is made, and only its hash is kept. It reads
"<kind>_<prefix>.<secret>": the kind ("pac" for a client, "pat" for a person) tells them
apart, the prefix finds the row (indexed, unique, safe to display), and the secret is checked
against the hash.
"""

from django.conf import settings
from django.db import models

from governance.models.fields import CreatedAtField


class ApiClient(models.Model):
    """An application calling the API with Graph's application permissions."""

    display_name = models.CharField(max_length=200, unique=True)
    # Graph's permission names (ApiPermission), as a JSON list: the embedded demo runs on
    # SQLite, which has no arrays.
    permissions = models.JSONField(default=list)
    secret_hash = models.CharField(max_length=200, editable=False)
    secret_prefix = models.CharField(max_length=8, unique=True, editable=False)
    created_at = CreatedAtField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL,
                                   null=True, blank=True, related_name="+")
    last_used_at = models.DateTimeField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    # Who the client is to the services, the selectors and the audit log: a user of type
    # "service" with the rights of a global administrator (Graph's application permissions are
    # tenant-wide), which cannot sign in. Read.All clients are kept to reading by the API.
    principal = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                     null=True, blank=True, editable=False,
                                     related_name="api_client")

    class Meta:
        ordering = ["display_name"]
        verbose_name = "API client"

    def __str__(self):
        return self.display_name


class PersonalToken(models.Model):
    """A person's own token: the API acts as them, with their rights."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="api_tokens")
    name = models.CharField(max_length=200)
    token_hash = models.CharField(max_length=200, editable=False)
    token_prefix = models.CharField(max_length=8, unique=True, editable=False)
    created_at = CreatedAtField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return self.name
