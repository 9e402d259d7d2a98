"""Catalogs in the admin: listed for every role holder, created by catalog creators and global
administrators, changed, deleted and delegated by their owners.

The change page lists who holds which role; owners add, change and remove role holders in
that inline, whose rows are granted and revoked through governance.services.catalogs (so a
catalog never loses its last owner, and a refusal shows above the inline with nothing saved).
"""

from django import forms
from django.contrib import admin
from django.db.models import Count
from django.urls import reverse
from django.utils.html import format_html

from governance.admin.builder import (
    BuilderAdmin,
    ScopedInline,
    ServiceInlineFormSet,
)
from governance.admin.scoped import ServiceCheckedValues, ServiceModelForm, count_column
from governance.admin.site import admin_site
from governance.choices import CatalogState, GlobalRole
from governance.models import Catalog, CatalogRoleAssignment, User
from governance.selectors.permissions import Capability, has_global_role
from governance.services.catalogs import (
    catalog_create,
    catalog_delete,
    catalog_role_grant,
    catalog_role_revoke,
    catalog_update,
)


class CatalogForm(ServiceModelForm):
    class Meta:
        model = Catalog
        fields = ["display_name", "description", "state", "is_externally_visible"]
        labels = {"is_externally_visible": "Visible to external users"}
        help_texts = {
            "state": "Only the packages of published catalogs can be requested.",
            "is_externally_visible": "Users of connected organizations see its packages, and "
                                     "its policies can be for users outside the directory.",
        }

    def service_save(self, actor):
        fields = {name: self.cleaned_data.get(name) for name in self._meta.fields}
        if self.instance.pk:
            return catalog_update(actor=actor, catalog_id=self.instance.pk, **fields)
        return catalog_create(actor=actor, **fields)


class RoleHolderForm(ServiceCheckedValues, forms.ModelForm):
    class Meta:
        model = CatalogRoleAssignment
        fields = ["user", "role"]


class RoleHolderFormSet(ServiceInlineFormSet):
    def changes(self):
        """Grants first, then revocations, so that handing the catalog to a new owner works."""
        catalog_id, grants, revokes = self.instance.pk, [], []
        for form, deleted in self.live_forms():
            old = None
            if form.instance.pk:
                old = (User.objects.get(pk=form.initial["user"]), form.initial["role"])
            new = None if deleted else (form.cleaned_data["user"], form.cleaned_data["role"])
            if old == new:
                continue
            if new is not None:
                grants.append(new)
            if old is not None:
                revokes.append(old)
        return ([lambda user=user, role=role: catalog_role_grant(
                    actor=self.actor, catalog_id=catalog_id, user=user, role=role)
                 for user, role in grants]
                + [lambda user=user, role=role: catalog_role_revoke(
                    actor=self.actor, catalog_id=catalog_id, user=user, role=role)
                   for user, role in revokes])


class RoleHolderInline(ScopedInline, admin.TabularInline):
    model = CatalogRoleAssignment
    form = RoleHolderForm
    formset = RoleHolderFormSet
    capability = Capability.CATALOG
    autocomplete_fields = ["user"]
    extra = 1
    verbose_name = "role holder"
    verbose_name_plural = "Who holds a role in this catalog"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user").order_by("role",
                                                                             "user__email")


@admin.register(Catalog, site=admin_site)
class CatalogAdmin(BuilderAdmin):
    form = CatalogForm
    view_capability = Capability.READ
    change_capability = Capability.CATALOG
    list_display = ["display_name", "state", "is_externally_visible", "package_count",
                    "resource_count", "packages_link"]
    list_filter = ["state", "is_externally_visible"]
    search_fields = ["display_name", "description"]
    inlines = [RoleHolderInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(
            package_total=Count("access_packages", distinct=True),
            resource_total=Count("resources", distinct=True)).order_by("display_name")

    package_count = count_column("package_total", "Access packages")

    resource_count = count_column("resource_total", "Resources")

    @admin.display(description="")
    def packages_link(self, catalog):
        url = reverse("admin:governance_accesspackage_changelist",
                      current_app=self.admin_site.name)
        return format_html('<a href="{}?catalog={}">Packages</a>', url, catalog.pk)

    # Catalog creators create catalogs (and see the list, empty until they do).

    def _creator(self, request) -> bool:
        return has_global_role(request.user, GlobalRole.CATALOG_CREATOR)

    def has_module_permission(self, request):
        return super().has_module_permission(request) or self._creator(request)

    def has_view_permission(self, request, obj=None):
        if obj is None and self._creator(request):
            return True
        return super().has_view_permission(request, obj)

    def has_add_permission(self, request):
        return self._creator(request)

    def get_inlines(self, request, obj):
        # Whoever creates a catalog owns it; others are added on its change page.
        return self.inlines if obj is not None else []

    def service_delete(self, actor, catalog):
        catalog_delete(actor=actor, catalog_id=catalog.pk)

    def get_deleted_objects(self, objs, request):
        # The service removes the (unused) resources with the catalog; Django would call
        # them protected.
        catalog = objs[0]
        resources = [f"Resource: {resource}" for resource in catalog.resources.all()]
        holders = [f"{holder.get_role_display()}: {holder.user}"
                   for holder in catalog.role_assignments.select_related("user")]
        summary = {"catalogs": 1, "resources": len(resources), "role holders": len(holders)}
        return [f"Catalog: {catalog}", resources + holders], summary, set(), []

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        initial.setdefault("state", CatalogState.UNPUBLISHED)
        return initial
