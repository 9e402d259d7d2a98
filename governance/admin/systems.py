"""Target systems in the delegated admin: global administrators only.

The form saves through governance.services.systems.system_save, so its refusals are the
service's. The secret is write-only: the form never renders it back, not even after a
refused save, and the page only says where the secret comes from. The change page tests the
connection and refreshes the system's groups and applications into a catalog
(governance.services.system_refresh), each a POST showing what the system answered.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe

from governance.admin.scoped import (
    GlobalAdminOnly,
    RefusedSaveReloads,
    ServiceFormAdmin,
    ServiceModelForm,
)
from governance.admin.site import admin_site
from governance.admin.system_columns import check_status, report_check
from governance.models import Catalog, TargetSystem
from governance.selectors.permissions import Capability
from governance.services.errors import RefusalFormMixin, Refused
from governance.services.system_refresh import system_refresh
from governance.services.systems import system_delete, system_delete_refusal, system_save

SECRET_HELP = ("The SCIM bearer token, or the Entra application's client secret. It is "
               "stored encrypted and never shown again. Or leave it blank and name an "
               "environment variable above.")


class TargetSystemForm(ServiceModelForm):
    secret = forms.CharField(
        label="Secret", required=False, strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=SECRET_HELP)

    class Meta:
        model = TargetSystem
        fields = ["display_name", "kind", "base_url", "authority", "client_id", "secret_env"]
        # Plain text fields: the service checks the addresses and says what is wrong.
        field_classes = {"base_url": forms.CharField, "authority": forms.CharField}
        widgets = {"base_url": forms.TextInput(attrs={"class": "vURLField"}),
                   "authority": forms.TextInput(attrs={"class": "vURLField"})}
        help_texts = {"base_url": "SCIM: the service's base URL (https://app.example.com/"
                                  "scim/v2). Entra: the Microsoft Graph base URL "
                                  "(https://graph.microsoft.com/v1.0).",
                      "authority": "Entra only: https://login.microsoftonline.com/ followed "
                                   "by the tenant ID.",
                      "client_id": "Entra only: the application (client) ID of the app "
                                   "registration.",
                      "secret_env": "Name of the variable (or NAME_FILE) that holds the "
                                    "secret on the servers, such as SCIM_TOKEN. Leave it "
                                    "blank to type the secret below instead."}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        system = self.instance
        if system.pk and system.secret_env:
            self.fields["secret"].help_text = (
                f"Read from ${system.secret_env} on the servers. To type a secret instead, "
                "clear the variable's name above.")
        elif system.pk and system.secret_encrypted:
            self.fields["secret"].help_text = (
                "A secret is stored (encrypted). Type a new one to replace it; leave it "
                "blank to keep it.")

    def service_save(self, actor):
        data = self.cleaned_data
        return system_save(actor=actor, system_id=self.instance.pk,
                           display_name=data.get("display_name", ""), kind=data.get("kind", ""),
                           base_url=data.get("base_url", ""),
                           authority=data.get("authority", ""),
                           client_id=data.get("client_id", ""),
                           secret_env=data.get("secret_env", ""),
                           secret_value=data.get("secret") or None)


class RefreshForm(RefusalFormMixin, forms.Form):
    catalog = forms.ModelChoiceField(
        queryset=Catalog.objects.none(), label="Catalog",
        help_text="The system's groups and applications become resources of this catalog, "
                  "with their roles; those it already offers are renamed and get new roles. "
                  "Nothing is removed.")

    def __init__(self, actor, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["catalog"].queryset = Catalog.objects.order_by("display_name").restrict(
            actor, Capability.CATALOG)


class TargetSystemAdmin(RefusedSaveReloads, GlobalAdminOnly, ServiceFormAdmin):
    form = TargetSystemForm
    list_display = ["display_name", "kind", "status", "resource_count"]
    list_filter = ["kind", "last_check_ok"]
    search_fields = ["display_name", "base_url"]
    actions = None  # deleting goes one system at a time, through the page that says why not

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(resource_total=Count("resources"))

    def get_fieldsets(self, request, obj=None):
        fieldsets = [
            (None, {"fields": ["display_name", "kind"]}),
            ("Connection", {"fields": ["base_url", "authority", "client_id"]}),
            ("Secret", {"fields": ["secret_env", "secret"]}),
        ]
        if obj is not None:
            fieldsets.append(("Status", {"fields": ["status", "last_refreshed_at",
                                                    "resource_list"]}))
        return fieldsets

    def get_readonly_fields(self, request, obj=None):
        return ["status", "last_refreshed_at", "resource_list"] if obj is not None else []

    @admin.display(description="Last test", ordering="last_checked_at")
    def status(self, system: TargetSystem) -> str:
        return check_status(system)

    @admin.display(description="Resources", ordering="resource_total")
    def resource_count(self, system: TargetSystem) -> int:
        return system.resource_total

    @admin.display(description="Resources delivered into it")
    def resource_list(self, system: TargetSystem):
        # The separator is a constant line break; every value is escaped by format_html_join.
        rows = format_html_join(mark_safe("<br>"), '<a href="{}">{}</a> ({})', (  # nosec B308  # constant separator
            (reverse("admin:governance_resource_change", args=[resource.pk],
                     current_app=self.admin_site.name), resource, resource.catalog)
            for resource in system.resources.select_related("catalog")
            .order_by("catalog__display_name", "display_name")))
        return rows or "None yet: use Refresh."

    # Deleting, one at a time, with the reason it cannot be done.

    def delete_view(self, request, object_id, extra_context=None):
        system = self.get_object(request, unquote(object_id))
        if system is not None and self.has_delete_permission(request, system):
            refusal = system_delete_refusal(system)
            if refusal:
                messages.error(request, refusal)
                return redirect(self._change_url(system))
        try:
            return super().delete_view(request, object_id, extra_context)
        except Refused as refusal:
            messages.error(request, f"Nothing was deleted: {refusal.message}")
            return redirect(reverse("admin:governance_targetsystem_changelist"))

    def delete_model(self, request, obj):
        system_delete(actor=request.user, system_id=obj.pk)

    # Test connection and Refresh.

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("<path:object_id>/check/", wrap(self.check_view),
                 name="governance_targetsystem_check"),
            path("<path:object_id>/refresh/", wrap(self.refresh_view),
                 name="governance_targetsystem_refresh"),
            *super().get_urls(),
        ]

    def _change_url(self, system: TargetSystem) -> str:
        return reverse("admin:governance_targetsystem_change", args=[system.pk],
                       current_app=self.admin_site.name)

    def _system_or_refuse(self, request, object_id):
        system = self.get_object(request, unquote(object_id))
        if system is None:
            return None, self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not self.has_change_permission(request, system):
            raise PermissionDenied
        return system, None

    def check_view(self, request, object_id):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        system, refused = self._system_or_refuse(request, object_id)
        if refused:
            return refused
        report_check(request, system, request.user)
        return HttpResponseRedirect(self._change_url(system))

    def refresh_view(self, request, object_id):
        system, refused = self._system_or_refuse(request, object_id)
        if refused:
            return refused
        form = RefreshForm(request.user, request.POST or None,
                           initial={"catalog": request.GET.get("catalog")})
        if request.method == "POST" and form.is_valid():
            catalog = form.cleaned_data["catalog"]
            try:
                summary = system_refresh(actor=request.user, system_id=system.pk,
                                         catalog_id=catalog.pk)
            except Refused as refusal:
                form.add_refusal(refusal)
            else:
                messages.success(request, f"Refreshed “{system}” into “{catalog}”: {summary}")
                return HttpResponseRedirect(self._change_url(system))
        context = {**self.admin_site.each_context(request), "opts": self.opts,
                   "title": f"Refresh “{system}” into a catalog", "original": system,
                   "form": form, "change_url": self._change_url(system)}
        return TemplateResponse(request, "admin/governance/targetsystem/refresh.html", context)


admin_site.register(TargetSystem, TargetSystemAdmin)
