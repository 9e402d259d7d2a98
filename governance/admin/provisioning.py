"""SCIM provisioning clients in the delegated admin: global administrators register, list and
revoke them, and see when each last called.

Registering goes through governance.services.provisioning_clients; the token is shown once,
in the message after saving, with the SCIM base URL to paste beside it into the identity
provider. A client is never edited or deleted: it is revoked, and its row stays.
"""

from django.contrib import admin

from governance.admin.scoped import ServiceModelForm
from governance.admin.site import admin_site
from governance.admin.token_clients import TokenClientAdmin
from governance.models import ProvisioningClient
from governance.services.provisioning_clients import (
    provisioning_client_create,
    provisioning_client_revoke,
)


class ProvisioningClientForm(ServiceModelForm):
    class Meta:
        model = ProvisioningClient
        fields = ["display_name"]

    token = None

    def service_save(self, actor):
        client, self.token = provisioning_client_create(
            actor=actor, display_name=self.cleaned_data.get("display_name", ""))
        return client


class ProvisioningClientAdmin(TokenClientAdmin):
    form = ProvisioningClientForm
    list_display = ["display_name", "token_prefix", "active", "people_count", "created_at",
                    "created_by", "last_used_at", "revoked_at"]
    search_fields = ["display_name", "token_prefix"]
    readonly_fields = ["display_name", "token_prefix", "active", "people_count", "created_at",
                       "created_by", "last_used_at", "revoked_at"]
    revoke_service = provisioning_client_revoke
    revoked_message = ("Revoked {count} provisioning client(s); their tokens no longer work. "
                       "The people they provisioned stay as they are.")

    @admin.display(description="Active", boolean=True)
    def active(self, client: ProvisioningClient) -> bool:
        return client.is_active

    @admin.display(description="People provisioned")
    def people_count(self, client: ProvisioningClient) -> int:
        return client.people.count()

    def token_message(self, request, client, token: str) -> str:
        base_url = request.build_absolute_uri("/scim/v2/")
        return f"SCIM base URL: {base_url} . " + super().token_message(request, client, token)


admin_site.register(ProvisioningClient, ProvisioningClientAdmin)
