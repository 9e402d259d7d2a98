"""The package builder: resources of a catalog, and access packages made of their roles.

Catalog owners offer the portal's groups as resources (governance.services.packages:
resource_add, resource_remove). Owners and package managers build packages: name, visibility,
the resource roles it grants (only roles of the package's own catalog are offered), separation
of duties, and the list of its policies with links to change them or add one. Saving calls
package_create / package_update and package_role_add / package_role_remove in one
transaction; the form's check runs the same calls in a savepoint that is rolled back.
"""

from django import forms
from django.contrib import admin
from django.db import transaction
from django.db.models import Count
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from governance.admin.builder import BuilderAdmin, catalog_filter
from governance.admin.scoped import ServiceModelForm, count_column
from governance.admin.site import admin_site
from governance.admin.system_columns import ResourceSystemAdmin
from governance.models import AccessPackage, Group, Resource, ResourceRole
from governance.selectors.catalogs import groups_addable_by
from governance.selectors.permissions import Capability, can
from governance.selectors.visibility import catalog_packages_visible_to
from governance.services.packages import (
    package_create,
    package_delete,
    package_role_add,
    package_role_remove,
    package_update,
)
from governance.services.resources import resource_add, resource_remove, resource_update

# Resources


class ResourceForm(ServiceModelForm):
    group = forms.ModelChoiceField(
        queryset=Group.objects.none(), required=False,
        help_text="One of the portal's groups that you own. The catalog offers its Member and "
                  "Owner roles to its access packages.")
    display_name = forms.CharField(
        max_length=200, required=False, label="Display name",
        help_text="Blank: the group's name.")

    class Meta:
        model = Resource
        fields = ["catalog", "group", "display_name", "description"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "group" in self.fields:
            self.fields["group"].queryset = groups_addable_by(self.actor).order_by(
                "display_name")
        if self.instance.pk and "display_name" in self.fields:
            self.fields["display_name"].help_text = "What package managers see."

    def service_save(self, actor):
        data = self.cleaned_data
        if self.instance.pk:
            return resource_update(actor=actor, resource_id=self.instance.pk,
                                   display_name=data.get("display_name", ""),
                                   description=data.get("description", ""))
        return resource_add(actor=actor, catalog_id=data["catalog"].pk if data.get("catalog")
                            else None, group_id=data["group"].pk if data.get("group") else None,
                            display_name=data.get("display_name", ""),
                            description=data.get("description", ""))


@admin.register(Resource, site=admin_site)
class ResourceAdmin(ResourceSystemAdmin, BuilderAdmin):
    """Resources are added, renamed and removed; what they point at never changes."""

    form = ResourceForm
    view_capability = Capability.READ
    change_capability = Capability.CATALOG
    list_display = ["display_name", "catalog", "origin_system", "role_names", "package_count"]
    list_filter = [catalog_filter("catalog_id"), "origin_system"]
    list_select_related = ["catalog"]
    search_fields = ["display_name", "description"]
    FIXED = ["catalog", "origin_system", "origin_id", "system_status", "role_names"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(
            packages=Count("roles__scopes__access_package", distinct=True)
        ).prefetch_related("roles").order_by("display_name")

    @admin.display(description="Roles")
    def role_names(self, resource):
        return ", ".join(role.display_name for role in resource.roles.all())

    package_count = count_column("packages", "Used by packages")

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["catalog", "group", "display_name", "description"]
        return ["display_name", "description", *self.FIXED]

    def get_readonly_fields(self, request, obj=None):
        return self.FIXED if obj is not None else []

    def service_delete(self, actor, resource):
        resource_remove(actor=actor, resource_id=resource.pk)


# Access packages


class RoleChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, role):
        return f"{role.resource.catalog} › {role.resource} › {role.display_name}" \
            if self.with_catalog else f"{role.resource} › {role.display_name}"


class PackageForm(ServiceModelForm):
    resource_roles = RoleChoiceField(
        queryset=ResourceRole.objects.none(), required=False,
        widget=forms.CheckboxSelectMultiple, label="Resource roles",
        help_text="What the package grants: roles of the resources of its catalog. People who "
                  "hold the package get a role added here, and lose one removed here unless "
                  "another access package still grants it.")

    class Meta:
        model = AccessPackage
        fields = ["catalog", "display_name", "description", "is_hidden", "resource_roles",
                  "incompatible_access_packages", "incompatible_groups"]
        labels = {"is_hidden": "Hidden"}
        help_texts = {
            "is_hidden": "Not listed in My Access; people can still request it through its "
                         "link.",
            "incompatible_access_packages": "Someone who holds one of these cannot request "
                                            "or be assigned this package.",
            "incompatible_groups": "Members of these groups cannot request or be assigned "
                                   "this package.",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        package = self.instance
        roles = ResourceRole.objects.select_related("resource__catalog").order_by(
            "resource__catalog__display_name", "resource__display_name", "display_name")
        field = self.fields["resource_roles"]
        if package.pk:
            field.queryset = roles.filter(resource__catalog_id=package.catalog_id)
            field.with_catalog = False
            self.initial.setdefault("resource_roles", list(
                package.role_scopes.values_list("role_id", flat=True)))
        else:
            field.queryset = roles.restrict(self.actor, Capability.PACKAGES)
            field.with_catalog = True

    def service_save(self, actor):
        data = self.cleaned_data
        fields = {
            "display_name": data.get("display_name", ""),
            "description": data.get("description", ""),
            "is_hidden": data.get("is_hidden", False),
            "incompatible_access_package_ids": [
                package.pk for package in data.get("incompatible_access_packages") or ()],
            "incompatible_group_ids": [group.pk for group in data.get("incompatible_groups")
                                       or ()],
        }
        with transaction.atomic():
            if self.instance.pk:
                package = package_update(actor=actor, package_id=self.instance.pk, **fields)
            else:
                catalog = data.get("catalog")
                package = package_create(actor=actor, catalog_id=catalog.pk if catalog
                                         else None, **fields)
            wanted = {role.pk for role in data.get("resource_roles") or ()}
            current = set(package.role_scopes.values_list("role_id", flat=True))
            for role_id in sorted(current - wanted):
                package_role_remove(actor=actor, package_id=package.pk, role_id=role_id)
            for role_id in sorted(wanted - current):
                package_role_add(actor=actor, package_id=package.pk, role_id=role_id)
        return package


@admin.register(AccessPackage, site=admin_site)
class AccessPackageAdmin(BuilderAdmin):
    form = PackageForm
    view_capability = Capability.READ
    change_capability = Capability.PACKAGES
    list_display = ["display_name", "catalog", "is_hidden", "role_count", "policy_count"]
    list_filter = [catalog_filter("catalog_id"), "is_hidden"]
    list_select_related = ["catalog"]
    search_fields = ["display_name", "description"]
    autocomplete_fields = ["incompatible_access_packages", "incompatible_groups"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(
            roles=Count("role_scopes", distinct=True),
            policy_total=Count("policies", distinct=True)).order_by("display_name")

    role_count = count_column("roles", "Resource roles")

    policy_count = count_column("policy_total", "Policies")

    def get_fieldsets(self, request, obj=None):
        fieldsets = [
            (None, {"fields": ["catalog", "display_name", "description", "is_hidden"]}),
            ("What it grants", {"fields": ["resource_roles", "resources_note"]
                                if obj is not None else ["resource_roles"]}),
            ("Separation of duties", {"fields": ["incompatible_access_packages",
                                                 "incompatible_groups"]}),
        ]
        if obj is not None:
            fieldsets.append(("Policies", {"fields": ["policy_list"]}))
        return fieldsets

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return ["catalog", "resources_note", "policy_list"]

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        field = super().formfield_for_manytomany(db_field, request, **kwargs)
        if db_field.name == "incompatible_access_packages":
            # Any package one can see may be declared incompatible, as the autocomplete
            # (AccessPackageAdmin's own list) offers.
            field.queryset = catalog_packages_visible_to(request.user)
        return field

    @admin.display(description="Resources")
    def resources_note(self, package):
        url = reverse("admin:governance_resource_changelist", current_app=self.admin_site.name)
        note = format_html('The roles offered are those of the resources of “{}”. '
                           '<a href="{}?catalog={}">Its resources</a>', package.catalog, url,
                           package.catalog_id)
        if self._viewer_can(package, Capability.CATALOG):
            add = reverse("admin:governance_resource_add", current_app=self.admin_site.name)
            note += format_html(' · <a href="{}?catalog={}">Add a resource</a>', add,
                                package.catalog_id)
        return note

    @staticmethod
    def _viewer_can(package, capability) -> bool:
        viewer = getattr(package, "viewer", None)
        return viewer is not None and can(viewer, package.catalog_id, capability)

    @admin.display(description="Policies")
    @staticmethod
    def _policy_summary(policy) -> str:
        if policy.is_automatic:
            return f"assigned automatically to everyone its rule matches: {policy.membership_rule}"
        stages = (f"{policy.stage_count} approval stage{'s' if policy.stage_count != 1 else ''}"
                  if policy.stage_count else "no approval")
        return f"{policy.get_allowed_target_scope_display()}, {stages}"

    def policy_list(self, package):
        rows = format_html_join("", '<li><a href="{}">{}</a> — {}</li>', (
            (reverse("admin:governance_assignmentpolicy_change", args=[policy.pk],
                     current_app=self.admin_site.name),
             policy.display_name, self._policy_summary(policy))
            for policy in package.policies.annotate(stage_count=Count("stages"))
            .order_by("display_name")))
        if not rows:
            rows = format_html("<li>{}</li>", "No policy yet: nobody can request it.")
        add = ""
        if self._viewer_can(package, Capability.PACKAGES):
            url = reverse("admin:governance_assignmentpolicy_add",
                          current_app=self.admin_site.name)
            add = format_html('<a class="addlink" href="{}?access_package={}">Add a policy</a>',
                              url, package.pk)
            if not any(policy.is_automatic for policy in package.policies.all()):
                add += format_html(' <a class="addlink" href="{}?access_package={}&amp;'
                                   'is_automatic=True">Add an automatic policy</a>',
                                   url, package.pk)
        return format_html('<ul class="policy-list">{}</ul>{}', rows, add)

    def get_object(self, request, object_id, from_field=None):
        # The read-only fields' links depend on who looks (the admin object is shared).
        package = super().get_object(request, object_id, from_field)
        if package is not None:
            package.viewer = request.user
        return package

    def service_delete(self, actor, package):
        package_delete(actor=actor, package_id=package.pk)
