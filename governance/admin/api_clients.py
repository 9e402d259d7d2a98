"""API clients in the delegated admin: global administrators register and revoke them.

Registering goes through governance.services.api_tokens; the token is shown once, in the
message after saving, and never again (only its hash is kept). A client is never edited or
deleted: it is revoked, and its row stays for the audit log.
"""

from django import forms
from django.contrib import admin

from governance.admin.scoped import ServiceModelForm
from governance.admin.site import admin_site
from governance.admin.token_clients import TokenClientAdmin
from governance.choices import ApiPermission
from governance.models import ApiClient
from governance.services.api_tokens import api_client_create, api_client_revoke


class ApiClientForm(ServiceModelForm):
    permissions = forms.MultipleChoiceField(
        choices=ApiPermission.choices, widget=forms.CheckboxSelectMultiple,
        help_text="Microsoft Graph's application permissions: Read.All reads, ReadWrite.All "
                  "also creates, changes and removes.")

    class Meta:
        model = ApiClient
        fields = ["display_name", "permissions"]

    token = None

    def service_save(self, actor):
        client, self.token = api_client_create(
            actor=actor, display_name=self.cleaned_data.get("display_name", ""),
            permissions=self.cleaned_data.get("permissions", []))
        return client


class ApiClientAdmin(TokenClientAdmin):
    form = ApiClientForm
    add_fields = ["display_name", "permissions"]
    list_display = ["display_name", "permission_list", "secret_prefix", "is_active",
                    "created_at", "created_by", "last_used_at"]
    list_filter = ["is_active"]
    search_fields = ["display_name", "secret_prefix"]
    readonly_fields = ["display_name", "permission_list", "secret_prefix", "is_active",
                       "created_at", "created_by", "last_used_at"]
    revoke_service = api_client_revoke
    revoked_message = "Revoked {count} API client(s); their tokens no longer work."

    @admin.display(description="Permissions")
    def permission_list(self, client: ApiClient) -> str:
        return ", ".join(client.permissions)


admin_site.register(ApiClient, ApiClientAdmin)
