"""People and groups of the directory, only as the admin's forms look them up.

Forms of the delegated site name people (approvers, role holders, requestors) and groups
(approver groups, targets, incompatible groups) with autocomplete, which asks these admins.
They are read-only and search-only, for anyone who may use the admin site, show nothing but
names and addresses, and are not listed on the site's index.
"""

from django.contrib import admin
from django.core.exceptions import PermissionDenied

from governance.admin.scoped import ReadOnlyAdmin
from governance.admin.site import admin_site
from governance.admin.system_columns import SystemAccountsForGlobalAdmins
from governance.choices import AccountState
from governance.models import Group, User
from governance.selectors.permissions import can_use_admin


class LookupOnlyAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    actions = None
    show_full_result_count = False

    def has_module_permission(self, request):
        return False

    def has_view_permission(self, request, obj=None):
        return can_use_admin(request.user)

    def history_view(self, request, object_id, extra_context=None):
        # A person's history is the audit log's, for global administrators only.
        raise PermissionDenied


@admin.register(User, site=admin_site)
class PersonLookupAdmin(SystemAccountsForGlobalAdmins, LookupOnlyAdmin):
    list_display = ["display_name", "email"]
    fields = ["display_name", "email"]
    search_fields = ["display_name", "email"]
    ordering = ["display_name", "email"]

    def get_queryset(self, request):
        # Only people who can still act: disabled and deleted accounts are not offered.
        return super().get_queryset(request).filter(is_active=True).exclude(
            account_state=AccountState.DELETED)


@admin.register(Group, site=admin_site)
class GroupLookupAdmin(LookupOnlyAdmin):
    list_display = ["display_name"]
    fields = ["display_name", "description"]
    search_fields = ["display_name"]
    ordering = ["display_name"]
