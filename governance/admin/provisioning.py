"""SCIM provisioning clients in the delegated admin: global administrators register, list and
revoke them, and see when each last called.

Registering goes through governance.services.provisioning_clients; the token is shown once,
in the message after saving, with the SCIM base URL to paste beside it into the identity
provider. A client is never edited or deleted: it is revoked, and its row stays.
"""

from django.contrib import admin, messages

from governance.admin.scoped import GlobalAdminOnly, ServiceFormAdmin, ServiceModelForm
from governance.admin.site import admin_site
from governance.models import ProvisioningClient
from governance.services.errors import Refused
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


class ProvisioningClientAdmin(GlobalAdminOnly, ServiceFormAdmin):
    form = ProvisioningClientForm
    list_display = ["display_name", "token_prefix", "active", "people_count", "created_at",
                    "created_by", "last_used_at", "revoked_at"]
    search_fields = ["display_name", "token_prefix"]
    actions = ["revoke"]
    readonly_fields = ["display_name", "token_prefix", "active", "people_count", "created_at",
                       "created_by", "last_used_at", "revoked_at"]

    def has_change_permission(self, request, obj=None):
        return False  # revoked, never edited

    def has_delete_permission(self, request, obj=None):
        return False  # revoked, never deleted: the audit log and its people name it

    def get_fields(self, request, obj=None):
        return ["display_name"] if obj is None else self.readonly_fields

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.readonly_fields

    @admin.display(description="Active", boolean=True)
    def active(self, client: ProvisioningClient) -> bool:
        return client.is_active

    @admin.display(description="People provisioned")
    def people_count(self, client: ProvisioningClient) -> int:
        return client.people.count()

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        base_url = request.build_absolute_uri("/scim/v2/")
        messages.warning(request, f"SCIM base URL: {base_url} . The token of “{obj}” is "
                                  f"{form.token} . Copy it now: it is not shown again, and "
                                  "only its hash is kept.")

    @admin.action(description="Revoke the selected provisioning clients")
    def revoke(self, request, queryset):
        revoked = 0
        for client in queryset:
            try:
                provisioning_client_revoke(actor=request.user, client_id=client.pk)
            except Refused as refusal:
                messages.error(request, f"“{client}” was not revoked: {refusal.message}")
                continue
            revoked += 1
        messages.success(request, f"Revoked {revoked} provisioning client(s); their tokens no "
                                  "longer work. The people they provisioned stay as they are.")


admin_site.register(ProvisioningClient, ProvisioningClientAdmin)
