"""Catalogs and the delegated roles on them, plus the two global roles."""

from django.db import models

from governance.choices import CatalogRole, CatalogState, GlobalRole
from governance.models.fields import CreatedAtField, ModifiedAtField
from governance.models.visibility import CatalogOwned


class Catalog(CatalogOwned):
    catalog_path = "id"

    display_name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    state = models.CharField(max_length=12, choices=CatalogState, default=CatalogState.PUBLISHED)
    is_externally_visible = models.BooleanField(default=False)
    created_at = CreatedAtField()
    modified_at = ModifiedAtField()

    class Meta:
        ordering = ["display_name"]

    def __str__(self):
        return self.display_name


class CatalogRoleAssignment(CatalogOwned):
    catalog_path = "catalog_id"

    catalog = models.ForeignKey(Catalog, on_delete=models.CASCADE, related_name="role_assignments")
    user = models.ForeignKey("governance.User", on_delete=models.CASCADE,
                             related_name="catalog_roles")
    role = models.CharField(max_length=32, choices=CatalogRole)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["catalog", "user", "role"],
                                               name="one_catalog_role_each")]

    def __str__(self):
        return f"{self.user}: {self.get_role_display().lower()}"


class GlobalRoleAssignment(models.Model):
    user = models.ForeignKey("governance.User", on_delete=models.CASCADE,
                             related_name="global_roles")
    role = models.CharField(max_length=40, choices=GlobalRole)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "role"],
                                               name="one_global_role_each")]
