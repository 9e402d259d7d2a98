"""Finding the row a service acts on, or refusing with NotFound.

Services lock a row's parent before the row itself (catalog, package, policy, question), so
they first read the parent's id without a lock: `parent_id_or_not_found`, then lock the
parent, then the row; `locked_under_parent` does all three.
"""

from django.db import models

from governance.models import Catalog
from governance.services.errors import InvalidInput, NotFound


def locked_or_not_found(queryset: models.QuerySet | models.Manager, pk, message: str,
                        code: str | None = None):
    """Row `pk` of `queryset`, locked until the transaction ends; NotFound if there is none."""
    obj = queryset.select_for_update().filter(pk=pk).first()
    if obj is None:
        raise NotFound(message, code=code)
    return obj


def parent_id_or_not_found(model: type[models.Model], pk, parent_field: str, message: str,
                           code: str | None = None):
    """The `parent_field` (an id) of row `pk` of `model`, read without a lock; NotFound if
    there is no such row."""
    parent_id = model.objects.filter(pk=pk).values_list(parent_field, flat=True).first()
    if parent_id is None:
        raise NotFound(message, code=code)
    return parent_id


def locked_under_parent(model: type[models.Model], pk, parent: str, lock_parent,
                        message: str, code: str | None = None):
    """Row `pk` of `model`, locked after its `parent` (a foreign key), which
    `lock_parent(parent_id)` locks and returns and the row then carries; NotFound if there
    is no such row."""
    parent_obj = lock_parent(parent_id_or_not_found(model, pk, f"{parent}_id", message,
                                                    code=code))
    obj = model.objects.select_for_update().get(pk=pk)
    setattr(obj, parent, parent_obj)
    return obj


def catalog_locked(catalog_id: int | None):
    """The catalog a new resource, package or extension goes in, locked; refused beside the
    form's catalog field when there is none."""
    catalog = Catalog.objects.select_for_update().filter(pk=catalog_id).first() \
        if catalog_id else None
    if catalog is None:
        raise InvalidInput("Choose the catalog it belongs to.", field="catalog",
                           code="catalogNotFound")
    return catalog
