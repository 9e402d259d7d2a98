"""What the configuration services (catalogs, packages, policies) check the same way."""

from django.db import models

from governance.selectors.permissions import Capability, can
from governance.services.errors import InvalidInput, NotAllowed


def clean_name(value: str | None, *, field: str, what: str, max_length: int) -> str:
    """A display name with its spaces tidied, or InvalidInput beside `field`."""
    name = " ".join((value or "").split())
    if not name:
        raise InvalidInput(f"Give the {what} a name.", field=field, code="nameRequired")
    if len(name) > max_length:
        raise InvalidInput(f"The name can have at most {max_length} characters.", field=field,
                           code="nameTooLong")
    return name


def clean_text(value: str | None) -> str:
    """A description: line ends as Unix has them, no blank edges."""
    return (value or "").replace("\r\n", "\n").strip()


def name_taken(same_kind: models.QuerySet | models.Manager, name: str, own_pk=None) -> bool:
    """Whether a row of `same_kind` other than `own_pk` (the one being renamed) is already
    named `name`, ignoring case."""
    return same_kind.filter(display_name__iexact=name).exclude(pk=own_pk).exists()


def max_length(model: type[models.Model], field: str) -> int:
    return model._meta.get_field(field).max_length


def require(actor, catalog, capability: Capability, doing: str) -> None:
    """NotAllowed unless `actor` has `capability` on `catalog`; `doing` ends the sentence
    "Your roles in the catalog … do not allow you to …"."""
    if not can(actor, catalog.pk, capability):
        raise NotAllowed(f"Your roles in the catalog “{catalog}” do not allow you to {doing}.",
                         code="notAllowed")
