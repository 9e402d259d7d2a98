"""Provisioning clients: identity providers (Entra ID, Okta, ...) that push people and groups
into the portal over SCIM (governance.scim).

A client's token is shown once, when it is made, and only its hash is kept, as for API
tokens (governance.models.api): "scim_<prefix>.<secret>". A SCIM token opens only /scim/v2/
and an API token only the Graph API.
"""

from django.conf import settings
from django.db import models

from governance.models.fields import CreatedAtField


class ProvisioningClient(models.Model):
    display_name = models.CharField(max_length=200, unique=True)
    token_hash = models.CharField(max_length=200, editable=False)
    token_prefix = models.CharField(max_length=8, unique=True, editable=False)
    created_at = CreatedAtField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL,
                                   null=True, blank=True, related_name="+")
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # Who the client is to the services and the audit log: a user of type "service" that
    # cannot sign in (as ApiClient.principal).
    principal = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                     editable=False, related_name="provisioning_client")

    class Meta:
        ordering = ["display_name"]
        verbose_name = "SCIM provisioning client"

    def __str__(self):
        return self.display_name

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
