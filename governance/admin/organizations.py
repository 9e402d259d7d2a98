"""Connected organizations, the tenant's external-user lifecycle setting, and the external
users themselves.

Connected organization administrators and global administrators manage the organizations
(through governance.services.organizations, so the form's refusals are the service's); only
global administrators change the tenant settings (tenant_settings_update, and the outbound
allow-list with outbound_allow_list_set). External users are read-only here: the guest sweeps
own their lifecycle.
"""

import re
from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.admin.widgets import FilteredSelectMultiple
from django.db.models import Count, IntegerField, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.http import HttpResponseRedirect
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html_join

from governance import clock
from governance.admin.scoped import (
    PermittedBy,
    ReadOnlyAdmin,
    ServiceFormAdmin,
    ServiceModelForm,
    count_column,
)
from governance.admin.site import admin_site
from governance.admin.system_columns import SystemAccountsColumn
from governance.choices import AccountState, UserType
from governance.models import (
    AuditEvent,
    ConnectedOrganization,
    ExternalUser,
    TenantSettings,
    User,
)
from governance.selectors.guests import external_users, lifecycle_outlook
from governance.selectors.permissions import is_global_admin
from governance.services.errors import Refused
from governance.services.guests import DELETION_DAYS_MAX, tenant_settings_update
from governance.services.organizations import (
    SPONSOR_KINDS,
    may_manage_organizations,
    organization_delete,
    organization_delete_refusal,
    organization_save,
    organization_sponsor_add,
    organization_sponsor_remove,
)
from governance.services.outbound import outbound_allow_list_set

# Connected organizations


def _domains_of(organization: ConnectedOrganization) -> list[str]:
    return sorted(source.domain_name for source in organization.identity_sources.all()
                  if source.domain_name)


def _through_count(field: str) -> Subquery:
    """The number of `field` rows (a many-to-many of ConnectedOrganization) per organization."""
    through = ConnectedOrganization._meta.get_field(field).remote_field.through
    rows = (through.objects.filter(connectedorganization_id=OuterRef("pk")).order_by()
            .values("connectedorganization_id").annotate(n=Count("*")).values("n"))
    return Coalesce(Subquery(rows, output_field=IntegerField()), Value(0))


class OrganizationForm(ServiceModelForm):
    domains = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="The part of their email addresses after the @, one per line (contoso.com). "
                  "People signing up with these domains are guests of this organization.")
    internal_sponsors = forms.ModelMultipleChoiceField(
        queryset=User.objects.none(), required=False,
        widget=FilteredSelectMultiple("internal sponsors", is_stacked=False),
        help_text="Members of our organization who vouch for it; policies can name them as "
                  "approvers.")
    external_sponsors = forms.ModelMultipleChoiceField(
        queryset=User.objects.none(), required=False,
        widget=FilteredSelectMultiple("external sponsors", is_stacked=False),
        help_text="Guests of this organization who approve for it. People of its domains "
                  "appear here once they have an account.")

    class Meta:
        model = ConnectedOrganization
        fields = ["display_name", "description", "state"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        organization = self.instance
        current = {kind: [] for kind in SPONSOR_KINDS}
        domains: list[str] = []
        if organization.pk:
            domains = _domains_of(organization)
            for kind in SPONSOR_KINDS:
                current[kind] = list(getattr(organization, f"{kind}_sponsors")
                                     .values_list("pk", flat=True))
            self.initial.setdefault("domains", "\n".join(domains))
            for kind in SPONSOR_KINDS:
                self.initial.setdefault(f"{kind}_sponsors", current[kind])
        active = Q(is_active=True, account_state=AccountState.ACTIVE)
        self.fields["internal_sponsors"].queryset = User.objects.filter(
            (active & Q(user_type=UserType.MEMBER)) | Q(pk__in=current["internal"]))
        # Its guests are the people of its domains (organization_of); a new organization's
        # will be those of no organization yet.
        of_organization = Q(connected_organization=organization) if organization.pk \
            else Q(connected_organization__isnull=True)
        self.fields["external_sponsors"].queryset = User.objects.filter(
            (active & Q(user_type=UserType.GUEST) & of_organization)
            | Q(pk__in=current["external"]))

    def domain_list(self) -> list[str]:
        return [part for part in re.split(r"[\s,;]+", self.cleaned_data.get("domains") or "")
                if part]

    def service_save(self, actor):
        data = self.cleaned_data
        organization = organization_save(
            actor=actor, organization_id=self.instance.pk, display_name=data["display_name"],
            description=data.get("description") or "", domains=self.domain_list(),
            state=data["state"])
        for kind in SPONSOR_KINDS:
            sponsors = getattr(organization, f"{kind}_sponsors")
            current = set(sponsors.all())
            wanted = set(data.get(f"{kind}_sponsors") or [])
            for person in sorted(wanted - current, key=lambda user: user.pk):
                organization_sponsor_add(actor=actor, organization_id=organization.pk,
                                         user=person, kind=kind)
            for person in sorted(current - wanted, key=lambda user: user.pk):
                organization_sponsor_remove(actor=actor, organization_id=organization.pk,
                                            user=person, kind=kind)
        return organization


class OrganizationAdministrators(PermittedBy):
    """Global administrators and connected organization administrators, and nobody else."""

    permitted = staticmethod(may_manage_organizations)


@admin.register(ConnectedOrganization, site=admin_site)
class ConnectedOrganizationAdmin(OrganizationAdministrators, ServiceFormAdmin):
    form = OrganizationForm
    list_display = ["display_name", "domain_list", "state", "sponsor_count", "user_count"]
    list_filter = ["state"]
    search_fields = ["display_name", "identity_sources__domain_name"]
    fieldsets = [
        (None, {"fields": ["display_name", "description", "domains", "state"]}),
        ("Sponsors", {"fields": ["internal_sponsors", "external_sponsors"]}),
    ]

    def get_queryset(self, request):
        return (super().get_queryset(request).prefetch_related("identity_sources")
                .annotate(sponsors=_through_count("internal_sponsors")
                          + _through_count("external_sponsors"),
                          people=Count("users", distinct=True)))

    def get_actions(self, request):
        # Deleting goes one organization at a time, through the page that says why it cannot.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    @admin.display(description="Domains")
    def domain_list(self, organization: ConnectedOrganization) -> str:
        return ", ".join(_domains_of(organization)) or "—"

    sponsor_count = count_column("sponsors", "Sponsors")

    user_count = count_column("people", "Users")

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except Refused:
            # Something changed between the form's check and the save (another administrator
            # took the domain, say): nothing was saved; checked again, the form says why.
            return super().changeform_view(request, object_id, form_url, extra_context)

    def save_related(self, request, form, formsets, change):
        """The sponsors were saved by the services in save_model; nothing is left to save."""

    def delete_view(self, request, object_id, extra_context=None):
        obj = self.get_object(request, unquote(object_id))
        if obj is not None and self.has_delete_permission(request, obj):
            refusal = organization_delete_refusal(obj)
            if refusal:
                self.message_user(request, refusal, messages.ERROR)
                return redirect(reverse("admin:governance_connectedorganization_change",
                                        args=[obj.pk]))
        try:
            return super().delete_view(request, object_id, extra_context)
        except Refused as refusal:
            self.message_user(request, refusal.message, messages.ERROR)
            return redirect(reverse("admin:governance_connectedorganization_changelist"))

    def delete_model(self, request, obj):
        organization_delete(actor=request.user, organization_id=obj.pk)


# Tenant settings


class TenantSettingsForm(ServiceModelForm):
    days_until_external_user_deleted_after_blocked = forms.IntegerField(
        label="Days before deletion", required=False, min_value=1, max_value=DELETION_DAYS_MAX,
        help_text="With “Block sign-in, then delete”: how long a blocked external user is kept "
                  "before the account is deleted. Guests already blocked keep the date they "
                  "were given.")

    outbound_allow_list = forms.CharField(
        label="Outbound allow-list", required=False,
        widget=forms.Textarea(attrs={"rows": 4, "cols": 60}),
        help_text="Hosts that custom extensions may call although they are not public "
                  "addresses (this machine, the organization's own networks): host names, IP "
                  "addresses or networks, one per line, e.g. hooks.internal, 10.20.0.0/16, "
                  "127.0.0.1. Plain http:// is only for these; any other extension must call "
                  "a public address over https://. Catalog owners cannot change this.")

    class Meta:
        model = TenantSettings
        fields = ["external_user_lifecycle_action",
                  "days_until_external_user_deleted_after_blocked"]
        widgets = {"external_user_lifecycle_action": forms.RadioSelect}
        labels = {"external_user_lifecycle_action":
                  "When an external user loses their last access package"}
        help_texts = {"external_user_lifecycle_action":
                      "Applies to external users onboarded through an access package "
                      "(governed); a blocked user who is assigned access again is unblocked."}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # One entry a line, not the stored list's repr (the admin binds the model field).
        self.initial["outbound_allow_list"] = "\n".join(self.instance.outbound_allow_list or [])

    def service_save(self, actor):
        tenant_settings_update(
            actor=actor, external_user_lifecycle_action=self.cleaned_data[
                "external_user_lifecycle_action"],
            days_until_external_user_deleted_after_blocked=self.cleaned_data.get(
                "days_until_external_user_deleted_after_blocked"))
        return outbound_allow_list_set(actor=actor,
                                       entries=self.cleaned_data.get("outbound_allow_list", ""))


@admin.register(TenantSettings, site=admin_site)
class TenantSettingsAdmin(ServiceFormAdmin):
    """One row: the list goes straight to its change page."""

    form = TenantSettingsForm

    def has_module_permission(self, request):
        return is_global_admin(request.user)

    def has_view_permission(self, request, obj=None):
        return is_global_admin(request.user)

    def has_change_permission(self, request, obj=None):
        return is_global_admin(request.user)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def _change_url(self) -> str:
        return reverse("admin:governance_tenantsettings_change",
                       args=[TenantSettings.current().pk])

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_permission(request):
            return super().changelist_view(request, extra_context)  # refuses
        return HttpResponseRedirect(self._change_url())

    def response_post_save_change(self, request, obj):
        return HttpResponseRedirect(self._change_url())


# External users


class DeletionDueFilter(admin.SimpleListFilter):
    title = "deletion due"
    parameter_name = "deletion_due"
    DAYS = {"7": 7, "30": 30}

    def lookups(self, request, model_admin):
        return [("7", "In the next 7 days"), ("30", "In the next 30 days"),
                ("any", "Any date")]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "any":
            return queryset.filter(delete_due_at__isnull=False,
                                   account_state=AccountState.BLOCKED)
        if value in self.DAYS:
            return queryset.filter(
                account_state=AccountState.BLOCKED,
                delete_due_at__lte=clock.now() + timedelta(days=self.DAYS[value]))
        return queryset


class ExternalUserAdmin(SystemAccountsColumn, ReadOnlyAdmin, admin.ModelAdmin):
    """Guests and their lifecycle: global administrators and connected organization
    administrators read it; nobody changes it here."""

    list_display = ["email", "connected_organization", "subject_lifecycle", "account_state",
                    "blocked_at", "delete_due_at", "last_login", "outlook"]
    list_filter = ["account_state", "subject_lifecycle", DeletionDueFilter,
                   ("connected_organization", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["email", "display_name", "connected_organization__display_name"]
    ordering = ["email"]
    actions = None
    fields = ["display_name", "email", "connected_organization", "subject_lifecycle",
              "account_state", "blocked_at", "delete_due_at", "deleted_at", "last_login",
              "date_joined", "sponsor_list", "outlook", "system_accounts"]
    readonly_fields = fields

    def get_queryset(self, request):
        return external_users(super().get_queryset(request))

    def has_module_permission(self, request):
        return may_manage_organizations(request.user)

    def has_view_permission(self, request, obj=None):
        return may_manage_organizations(request.user)

    @admin.display(description="What happens next")
    def outlook(self, user: User) -> str:
        return lifecycle_outlook(user)

    @admin.display(description="Sponsors")
    def sponsor_list(self, user: User):
        return format_html_join(", ", "{}", ((str(sponsor),) for sponsor in
                                             user.sponsors.all())) or "—"

    def history_view(self, request, object_id, extra_context=None):
        # The audit log names these rows "user" (the concrete model), not "externaluser".
        obj = self.get_object(request, unquote(object_id))
        if obj is None or not self.has_view_permission(request, obj):
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        events = AuditEvent.objects.filter(object_type="user",
                                           object_id=str(obj.pk)).order_by("-at", "-id")[:200]
        context = {**self.admin_site.each_context(request), "title": f"History: {obj}",
                   "object": obj, "opts": self.opts, "events": events,
                   **(extra_context or {})}
        return TemplateResponse(request, "admin/governance/audit_history.html", context)


admin_site.register(ExternalUser, ExternalUserAdmin)
