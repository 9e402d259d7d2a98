"""API clients in the delegated admin: global administrators register and revoke them.

Registering goes through governance.services.api_tokens; the token is shown once, in the
message after saving, and never again (only its hash is kept). A client is never edited or
deleted: it is revoked, and its row stays for the audit log.
"""

from django import forms
from django.contrib import admin, messages

from governance.admin.scoped import GlobalAdminOnly, ServiceFormAdmin, ServiceModelForm
from governance.admin.site import admin_site
from governance.choices import ApiPermission
from governance.models import ApiClient
from governance.services.api_tokens import api_client_create, api_client_revoke
from governance.services.errors import Refused


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


class ApiClientAdmin(GlobalAdminOnly, ServiceFormAdmin):
    form = ApiClientForm
    list_display = ["display_name", "permission_list", "secret_prefix", "is_active",
                    "created_at", "created_by", "last_used_at"]
    list_filter = ["is_active"]
    search_fields = ["display_name", "secret_prefix"]
    actions = ["revoke"]
    readonly_fields = ["display_name", "permission_list", "secret_prefix", "is_active",
                       "created_at", "created_by", "last_used_at"]

    def has_change_permission(self, request, obj=None):
        return False  # revoked, never edited

    def has_delete_permission(self, request, obj=None):
        return False  # revoked, never deleted: the audit log names it

    def get_fields(self, request, obj=None):
        return ["display_name", "permissions"] if obj is None else self.readonly_fields

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.readonly_fields

    @admin.display(description="Permissions")
    def permission_list(self, client: ApiClient) -> str:
        return ", ".join(client.permissions)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        messages.warning(request, f"The token of “{obj}” is {form.token} . Copy it now: it is "
                                  "not shown again, and only its hash is kept.")

    @admin.action(description="Revoke the selected API clients")
    def revoke(self, request, queryset):
        revoked = 0
        for client in queryset:
            try:
                api_client_revoke(actor=request.user, client_id=client.pk)
            except Refused as refusal:
                messages.error(request, f"“{client}” was not revoked: {refusal.message}")
                continue
            revoked += 1
        messages.success(request, f"Revoked {revoked} API client(s); their tokens no longer "
                                  "work.")


admin_site.register(ApiClient, ApiClientAdmin)
