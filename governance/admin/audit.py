"""The audit log in the admin, for global administrators: filterable and read-only.

Nothing here can add, change or delete an entry: the permissions say no, there are no
actions, and behind them the model and a PostgreSQL trigger refuse any change anyway.
"""

import json

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from governance.admin.scoped import ReadOnlyAdmin
from governance.admin.site import admin_site
from governance.models import AuditEvent
from governance.selectors.permissions import is_global_admin


def _pretty(value) -> str:
    if value in (None, {}, []):
        return "—"
    text = json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)
    return format_html('<pre class="audit-json">{}</pre>', text)


@admin.register(AuditEvent, site=admin_site)
class AuditEventAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    list_display = ["at", "actor_name", "action", "object_type", "object_id"]
    list_filter = ["action", "object_type"]
    date_hierarchy = "at"
    search_fields = ["actor_label", "=object_id"]
    ordering = ["-at", "-id"]
    actions = None
    show_full_result_count = False
    fields = ["at", "actor_name", "action", "object_link", "before_values", "after_values",
              "detail_values"]
    readonly_fields = fields

    def has_module_permission(self, request):
        return is_global_admin(request.user)

    def has_view_permission(self, request, obj=None):
        return is_global_admin(request.user)

    @admin.display(description="Actor", ordering="actor_label")
    def actor_name(self, event: AuditEvent) -> str:
        # The label as written then: the actor's account may since have changed or gone.
        return event.actor_label

    @admin.display(description="Before")
    def before_values(self, event: AuditEvent):
        return _pretty(event.before)

    @admin.display(description="After")
    def after_values(self, event: AuditEvent):
        return _pretty(event.after)

    @admin.display(description="Details")
    def detail_values(self, event: AuditEvent):
        return _pretty(event.details)

    @admin.display(description="Object")
    def object_link(self, event: AuditEvent):
        """A link to the object's admin page, when it has one and still exists."""
        for model in self.admin_site._registry:
            if (model._meta.model_name == event.object_type and not model._meta.proxy
                    and event.object_id.isdigit()):
                if model._default_manager.filter(pk=event.object_id).exists():
                    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}"
                                  "_change", args=[event.object_id],
                                  current_app=self.admin_site.name)
                    return format_html('<a href="{}">{} {}</a>', url,
                                       model._meta.verbose_name, event.object_id)
                return f"{model._meta.verbose_name} {event.object_id} (no longer exists)"
        return f"{event.object_type} {event.object_id}"
