"""Resources, their roles, and access packages that bundle roles."""

from django.db import models

from governance.choices import OriginSystem
from governance.models.fields import CreatedAtField, ModifiedAtField
from governance.models.visibility import CatalogOwned


class Resource(CatalogOwned):
    """Something access is granted to; `connector` names what delivers its roles."""

    catalog_path = "catalog_id"

    catalog = models.ForeignKey("governance.Catalog", on_delete=models.PROTECT,
                                related_name="resources")
    display_name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    origin_system = models.CharField(max_length=20, choices=OriginSystem,
                                     default=OriginSystem.GROUP)
    origin_id = models.CharField(max_length=200)
    # The kind of connector ("local" for the portal's own groups, "scim", "entra"), and for
    # every kind but "local", the configured system it delivers into.
    connector = models.CharField(max_length=20, default="local")
    system = models.ForeignKey("governance.TargetSystem", null=True, blank=True,
                               on_delete=models.PROTECT, related_name="resources")
    created_at = CreatedAtField()

    class Meta:
        ordering = ["display_name"]
        constraints = [models.UniqueConstraint(fields=["catalog", "origin_system", "origin_id"],
                                               name="one_resource_per_origin_in_catalog")]

    def __str__(self):
        return self.display_name


class ResourceRole(CatalogOwned):
    catalog_path = "resource__catalog_id"

    resource = models.ForeignKey(Resource, on_delete=models.CASCADE, related_name="roles")
    display_name = models.CharField(max_length=100)
    origin_id = models.CharField(max_length=200)

    class Meta:
        ordering = ["resource_id", "display_name"]
        constraints = [models.UniqueConstraint(fields=["resource", "origin_id"],
                                               name="one_role_per_origin")]

    def __str__(self):
        return f"{self.display_name} of {self.resource}"


class AccessPackage(CatalogOwned):
    catalog_path = "catalog_id"

    catalog = models.ForeignKey("governance.Catalog", on_delete=models.PROTECT,
                                related_name="access_packages")
    display_name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    is_hidden = models.BooleanField(default=False)
    resource_roles = models.ManyToManyField(ResourceRole, through="ResourceRoleScope",
                                            related_name="access_packages", blank=True)
    incompatible_access_packages = models.ManyToManyField("self", blank=True, symmetrical=False,
                                                          related_name="incompatible_with")
    incompatible_groups = models.ManyToManyField("governance.Group", blank=True,
                                                 related_name="incompatible_access_packages")
    created_at = CreatedAtField()
    modified_at = ModifiedAtField()

    class Meta:
        ordering = ["display_name"]

    def __str__(self):
        return self.display_name


class ResourceRoleScope(CatalogOwned):
    """"This package grants this role"."""

    catalog_path = "access_package__catalog_id"

    access_package = models.ForeignKey(AccessPackage, on_delete=models.CASCADE,
                                       related_name="role_scopes")
    role = models.ForeignKey(ResourceRole, on_delete=models.PROTECT, related_name="scopes")
    created_at = CreatedAtField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["access_package", "role"],
                                               name="one_scope_per_role")]
