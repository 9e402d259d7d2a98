"""What the admins of token-holding clients share (API clients, SCIM provisioning clients):
global administrators register one, and its token is shown once, in the message after
saving; a client is never edited or deleted but revoked, and its row stays for the audit log.
"""

from django.contrib import admin, messages

from governance.admin.scoped import GlobalAdminOnly, ServiceFormAdmin
from governance.services.errors import Refused


class TokenClientAdmin(GlobalAdminOnly, ServiceFormAdmin):
    add_fields: list[str] = ["display_name"]
    actions = ["revoke"]
    # (actor, client_id) -> the client: the service that revokes one.
    revoke_service = None
    revoked_message = "Revoked {count} client(s); their tokens no longer work."

    def has_change_permission(self, request, obj=None):
        return False  # revoked, never edited

    def has_delete_permission(self, request, obj=None):
        return False  # revoked, never deleted: the audit log names it

    def get_fields(self, request, obj=None):
        return self.add_fields if obj is None else self.readonly_fields

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.readonly_fields

    def token_message(self, request, client, token: str) -> str:
        return (f"The token of “{client}” is {token} . Copy it now: it is not shown again, "
                "and only its hash is kept.")

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        messages.warning(request, self.token_message(request, obj, form.token))

    @admin.action(description="Revoke the selected clients")
    def revoke(self, request, queryset):
        revoked = 0
        for client in queryset:
            try:
                type(self).revoke_service(actor=request.user, client_id=client.pk)
            except Refused as refusal:
                messages.error(request, f"“{client}” was not revoked: {refusal.message}")
                continue
            revoked += 1
        messages.success(request, self.revoked_message.format(count=revoked))
