"""Custom extensions in the admin, and the stages of a policy that call them.

Catalog owners add an extension: the address its calls are POSTed to, whether requests wait
for its answer (and for how long), and the secret that signs the calls: the name of an
environment variable holding it, or the secret typed once and stored encrypted. The secret is
never shown again, only where it comes from. The change page lists the latest calls with
their status. On a policy's page, `ExtensionStageInline` chooses which extension runs at which
stage; it is saved by policy_extension_stages_set, the extension by extension_save.
"""

from datetime import timedelta

from django import forms
from django.contrib import admin
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html, format_html_join
from django.utils.text import Truncator

from governance.admin.builder import (
    BuilderAdmin,
    ScopedInline,
    ServiceInlineFormSet,
    catalog_filter,
)
from governance.admin.scoped import ServiceCheckedValues, ServiceModelForm
from governance.admin.site import admin_site
from governance.choices import CustomExtensionBehavior
from governance.connectors.extension_calls import duration_text
from governance.connectors.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER
from governance.models import CustomExtension, PolicyExtensionStage
from governance.selectors.permissions import Capability
from governance.services.extension_config import (
    MAX_TIMEOUT,
    extension_delete,
    extension_save,
    policy_extension_stages_set,
)
from governance.services.secret_fields import secret_source

RECENT_CALLS = 20
MAX_MINUTES = int(MAX_TIMEOUT.total_seconds() // 60)


class ExtensionForm(ServiceModelForm):
    endpoint_url = forms.URLField(
        max_length=500, assume_scheme="https", label="Endpoint URL",
        help_text="Where the calls are POSTed, as JSON. https://, except to this machine.")
    timeout_minutes = forms.IntegerField(
        required=False, label="Wait at most (minutes)",
        help_text=f"5 to {MAX_MINUTES} (14 days). When nothing answers by then, the request "
                  "ends and the requestor is told why.")
    secret_value = forms.CharField(
        required=False, strip=False, label="Secret",
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="At least 16 characters, stored encrypted and never shown again. Leave it "
                  "empty to keep the current secret.")

    class Meta:
        model = CustomExtension
        fields = ["catalog", "display_name", "description", "endpoint_url", "behavior",
                  "secret_env"]
        labels = {"behavior": "Requests", "secret_env": "Secret from environment variable"}
        help_texts = {
            "behavior": "Waiting is only possible when a request is created or approved; the "
                        "receiver then answers at the callback address given in each call.",
            "secret_env": "The name of the variable (or NAME_FILE) holding the secret on the "
                          "servers; or leave it empty and type the secret below.",
        }
        widgets = {"behavior": forms.RadioSelect}

    # Where the service's field names differ from the form's.
    FIELD_FOR = {"callback_timeout": "timeout_minutes"}

    def add_refusal(self, refusal) -> None:
        field = getattr(refusal, "field", None)
        field = self.FIELD_FOR.get(field, field)
        self.add_error(field if field in self.fields else None, refusal.message)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        timeout = self.instance.callback_timeout
        if timeout is not None:
            self.initial.setdefault("timeout_minutes", int(timeout.total_seconds() // 60))

    def service_save(self, actor):
        data = self.cleaned_data
        catalog, minutes = data.get("catalog"), data.get("timeout_minutes")
        return extension_save(
            actor=actor, extension_id=self.instance.pk,
            catalog_id=catalog.pk if catalog else None,
            display_name=data.get("display_name", ""), description=data.get("description", ""),
            endpoint_url=data.get("endpoint_url", ""), behavior=data.get("behavior", ""),
            callback_timeout=timedelta(minutes=minutes) if minutes is not None else None,
            secret_env=data.get("secret_env", ""), secret_value=data.get("secret_value", ""))


@admin.register(CustomExtension, site=admin_site)
class CustomExtensionAdmin(BuilderAdmin):
    form = ExtensionForm
    view_capability = Capability.READ
    change_capability = Capability.CATALOG
    list_display = ["display_name", "catalog", "endpoint_url", "behavior", "timeout",
                    "secret_status"]
    list_filter = [catalog_filter("catalog_id"), "behavior"]
    list_select_related = ["catalog"]
    search_fields = ["display_name", "description"]

    def get_queryset(self, request):
        return super().get_queryset(request).order_by("display_name")

    @admin.display(description="Wait at most")
    def timeout(self, extension):
        if extension.behavior != CustomExtensionBehavior.LAUNCH_AND_WAIT:
            return "—"
        return duration_text(extension.callback_timeout) if extension.callback_timeout else "—"

    @admin.display(description="Secret")
    def secret_status(self, extension):
        return secret_source(extension).capitalize()

    @admin.display(description="Latest calls")
    def recent_callouts(self, extension):
        calls = extension.callouts.select_related("request", "assignment")[:RECENT_CALLS]
        rows = format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"
                                    "<td>{}</td></tr>", (
            (call.created_at.strftime("%Y-%m-%d %H:%M"), call.get_stage_display(),
             self._subject(call), call.get_status_display(),
             Truncator(call.detail).chars(200))
            for call in calls))
        if not rows:
            return "Not called yet."
        return format_html('<table class="callouts"><thead><tr><th>When</th><th>Stage</th>'
                           "<th>For</th><th>Status</th><th>Detail</th></tr></thead>"
                           "<tbody>{}</tbody></table>", rows)

    def _subject(self, call):
        target, name = (call.request, "assignmentrequest") if call.request_id \
            else (call.assignment, "assignment")
        try:
            url = reverse(f"admin:governance_{name}_change", args=[target.pk],
                          current_app=self.admin_site.name)
        except NoReverseMatch:
            return str(target)
        return format_html('<a href="{}">{}</a>', url, target)

    def get_fieldsets(self, request, obj=None):
        editable = self.has_change_permission(request, obj) if obj is not None \
            else self.has_add_permission(request)
        secret = ["secret_status"] if obj is not None else []
        if editable:
            secret += ["secret_env", "secret_value"]
        wait = ["behavior", "timeout_minutes" if editable else "timeout"]
        fieldsets = [
            (None, {"fields": ["catalog", "display_name", "description", "endpoint_url"]}),
            ("Waiting for an answer", {"fields": wait}),
            ("Secret", {"description": format_html(
                "Each call carries <code>{}</code> and <code>{}: sha256=…</code>, the "
                "HMAC-SHA256 of <code>timestamp.body</code> with this secret; receivers check "
                "it before trusting the call.", TIMESTAMP_HEADER, SIGNATURE_HEADER),
                "fields": secret}),
        ]
        if obj is not None:
            fieldsets.append(("Latest calls", {"fields": ["recent_callouts"]}))
        return fieldsets

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        shown = ["secret_status", "recent_callouts", "timeout"]
        return ["catalog", *shown] if self.has_change_permission(request, obj) else shown

    def service_delete(self, actor, extension):
        extension_delete(actor=actor, extension_id=extension.pk)


# On a policy's page: which extension runs at which stage.


class ExtensionStageForm(ServiceCheckedValues, forms.ModelForm):
    class Meta:
        model = PolicyExtensionStage
        fields = ["stage", "extension"]
        labels = {"stage": "When", "extension": "Custom extension"}


class ExtensionStageFormSet(ServiceInlineFormSet):
    def changes(self):
        rows, changed = [], False
        for form, deleted in self.live_forms():
            changed = changed or deleted or form.instance.pk is None or form.has_changed()
            if not deleted:
                extension = form.cleaned_data.get("extension")
                rows.append((form.cleaned_data.get("stage"), extension.pk if extension else None))
        if not changed:
            return []
        return [lambda: policy_extension_stages_set(actor=self.actor,
                                                    policy_id=self.instance.pk, stages=rows)]


class ExtensionStageInline(ScopedInline, admin.TabularInline):
    """Only on a saved policy's page: the extensions offered are those of its catalog."""

    model = PolicyExtensionStage
    form = ExtensionStageForm
    formset = ExtensionStageFormSet
    capability = Capability.PACKAGES
    extra = 0
    verbose_name = "custom extension"
    verbose_name_plural = "Custom extensions called at stages of requests and assignments"

    def _allowed(self, request, obj, capability) -> bool:
        return obj is not None and obj.pk is not None and super()._allowed(request, obj,
                                                                           capability)

    def get_queryset(self, request):
        # Not super()'s: it asks for permission without the policy, which _allowed refuses
        # (to hide the inline on the add page). The formset shows the rows of the policy
        # whose page is open, which Django only builds for those who may see it.
        return PolicyExtensionStage.objects.select_related("extension")

    def get_formset(self, request, obj=None, **kwargs):
        # formfield_for_foreignkey is not told the policy; the request carries it there.
        request.extension_stage_policy = obj
        return super().get_formset(request, obj, **kwargs)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "extension":
            policy = getattr(request, "extension_stage_policy", None)
            kwargs["queryset"] = CustomExtension.objects.filter(
                catalog_id=policy.access_package.catalog_id if policy is not None else None,
            ).order_by("display_name")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)
