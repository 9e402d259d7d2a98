"""What belongs to a catalog, and how a queryset of it is restricted to some catalogs.

A catalog-owned model derives from `CatalogOwned` and names, in `catalog_path`, the lookup
from its rows to their catalog's id. Each of its querysets, related managers included, then
has ``restrict(user, capability)``: ``AccessPackage.objects.restrict(user, Capability.READ)``.

Who holds a capability in which catalogs is not decided here. The capability is asked
(``capability.catalog_ids(user)``, governance.selectors.permissions.Capability), so the rules
stay in the selectors and the models never import the selectors that read them.
"""

from typing import Protocol

from django.db import models


class CatalogCapability(Protocol):
    def catalog_ids(self, user) -> set[int] | None:
        """The catalogs where `user` has this capability; None means every catalog."""


class CatalogOwnedQuerySet(models.QuerySet):
    def restrict(self, user, capability: CatalogCapability) -> "CatalogOwnedQuerySet":
        """Only the rows of the catalogs where `user` has `capability`."""
        ids = capability.catalog_ids(user)
        if ids is None:
            return self
        return self.filter(**{f"{self.model.catalog_path}__in": ids})


class CatalogOwned(models.Model):
    # The lookup from a row to its catalog's id, e.g. "access_package__catalog_id".
    catalog_path: str

    objects = CatalogOwnedQuerySet.as_manager()

    class Meta:
        abstract = True


def catalog_id_of(obj: CatalogOwned) -> int | None:
    """The catalog `obj` belongs to, following its catalog_path attribute by attribute (what
    is loaded already costs no query)."""
    path = type(obj).catalog_path
    if path == "id":
        return obj.pk
    *hops, last = path.split("__")
    for hop in hops:
        obj = getattr(obj, hop, None)
        if obj is None:
            return None
    return getattr(obj, last)
