"""What every model admin of the delegated site shares.

`ScopedAdmin` shows a person only the catalogs where they hold a role, and asks
governance.selectors.permissions for each action on each object; the related-object choices
of its forms are scoped the same way, which also covers autocomplete and raw-id pop-ups
(Django asks the related model's admin for those). `ServiceModelForm` makes a service the
form's validation: its clean() runs the service in a savepoint that is always rolled back,
so a refusal shows beside its field and nothing is written; save_model() then runs it for
real. Django's own change log is off: the services write the audit log, and each object's
History page shows that.
"""

from django import forms
from django.contrib import admin, messages
from django.db import models, transaction
from django.forms.models import construct_instance
from django.shortcuts import redirect
from django.template.response import TemplateResponse

from governance.models import AuditEvent
from governance.models.visibility import CatalogOwned, catalog_id_of
from governance.selectors.permissions import Capability, can, can_anywhere, is_global_admin
from governance.services.errors import RefusalFormMixin, Refused


class _DryRun(Exception):
    """Raised inside the savepoint of a check so that everything in it is rolled back."""


def refusal_of(action) -> Refused | None:
    """What `action` would be refused with, found by running it in a savepoint that is always
    rolled back; None if it would succeed."""
    try:
        with transaction.atomic():
            action()
            raise _DryRun
    except _DryRun:
        return None
    except Refused as refusal:
        return refusal


class ServiceCheckedValues:
    """Mixin for a ModelForm whose values a service checks, not the model: the model's own
    validation would only repeat the service's in other words. The instance just carries
    the values for the admin's templates."""

    def _post_clean(self):
        self.instance = construct_instance(self, self.instance, self._meta.fields,
                                           self._meta.exclude)


class ServiceModelForm(RefusalFormMixin, ServiceCheckedValues, forms.ModelForm):
    """A ModelForm whose validation and saving are one service call: `service_save`."""

    actor = None  # set by ScopedAdmin.get_form to the signed-in person

    def service_save(self, actor):
        """Call the service with self.cleaned_data; return the saved object."""
        raise NotImplementedError

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        refusal = refusal_of(lambda: self.service_save(self.actor))
        if refusal is not None:
            self.add_refusal(refusal)
        return cleaned


def adopt(obj: models.Model, saved: models.Model) -> None:
    """Make the admin's `obj` the row the service saved (for the redirect and messages)."""
    for field in type(saved)._meta.concrete_fields:
        setattr(obj, field.attname, getattr(saved, field.attname))
    obj._state.adding = False


def count_column(annotation: str, description: str):
    """A list column showing, and sorting by, a count the admin's get_queryset annotates."""

    @admin.display(description=description, ordering=annotation)
    def column(self, obj) -> int:
        return getattr(obj, annotation)

    return column


class RefusedSaveReloads:
    """A save its form checked a moment before, refused by its service now (someone changed
    the row meanwhile): the transaction is rolled back; say so and show the page again."""

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except Refused as refusal:
            messages.error(request, f"Nothing was saved: {refusal.message}")
            return redirect(request.get_full_path())


class ReadOnlyAdmin:
    """Nothing is added, changed or deleted here; put it before any mixin granting those.

    The signatures also fit an inline, whose has_add_permission takes the parent object.
    """

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class PermittedBy:
    """An admin whose every permission is one rule about the signed-in person, `permitted`
    (for what belongs to no catalog); `deletable` False refuses deleting to everyone."""

    permitted = staticmethod(is_global_admin)
    deletable = True

    def has_module_permission(self, request):
        return self.permitted(request.user)

    def has_view_permission(self, request, obj=None):
        return self.permitted(request.user)

    def has_add_permission(self, request):
        return self.permitted(request.user)

    def has_change_permission(self, request, obj=None):
        return self.permitted(request.user)

    def has_delete_permission(self, request, obj=None):
        return self.deletable and self.permitted(request.user)


class GlobalAdminOnly(PermittedBy):
    """For what belongs to no catalog and only global administrators manage."""


class AuditedAdmin(admin.ModelAdmin):
    """The audit log is the history; Django's LogEntry would be a second, partial one."""


    def log_addition(self, request, obj, message):
        return None

    def log_change(self, request, obj, message):
        return None

    def log_deletion(self, request, obj, object_repr):
        return None

    def log_deletions(self, request, queryset):
        return None

    def history_view(self, request, object_id, extra_context=None):
        obj = self.get_object(request, object_id)
        if obj is None or not self.has_view_permission(request, obj):
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        events = AuditEvent.objects.filter(object_type=obj._meta.model_name,
                                           object_id=str(obj.pk)).order_by("-at", "-id")[:200]
        context = {**self.admin_site.each_context(request), "title": f"History: {obj}",
                   "object": obj, "opts": self.opts, "events": events,
                   **(extra_context or {})}
        return TemplateResponse(request, "admin/governance/audit_history.html", context)


class ServiceFormAdmin(AuditedAdmin):
    """An admin whose form is a ServiceModelForm: it saves through its service, acting as
    the signed-in person."""

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        return type(form.__name__, (form,), {"actor": request.user})

    def save_model(self, request, obj, form, change):
        adopt(obj, form.service_save(request.user))


class ScopedAdmin(ServiceFormAdmin):
    """A model admin limited to the catalogs where the person holds a role."""

    view_capability = Capability.READ
    # Adding, changing and deleting; a read-only admin sets it to None.
    change_capability: Capability | None = Capability.PACKAGES
    delete_capability: Capability | None = None  # None: the same as change_capability
    service_delete = None  # (actor, obj) -> None, when deleting is allowed

    # Scope

    def get_queryset(self, request):
        return super().get_queryset(request).restrict(request.user, self.view_capability)

    def _allowed(self, request, capability, obj=None) -> bool:
        if capability is None:
            return False
        if obj is None:
            return can_anywhere(request.user, capability)
        return can(request.user, catalog_id_of(obj), capability)

    def has_module_permission(self, request):
        return self._allowed(request, self.view_capability)

    def has_view_permission(self, request, obj=None):
        return self._allowed(request, self.view_capability, obj)

    def has_add_permission(self, request):
        return self._allowed(request, self.change_capability)

    def has_change_permission(self, request, obj=None):
        return self._allowed(request, self.change_capability, obj)

    def has_delete_permission(self, request, obj=None):
        if self.service_delete is None:
            return False
        return self._allowed(request, self.delete_capability or self.change_capability, obj)

    # Choices in forms: only what the person may change, never another catalog's rows.

    def _scoped_choices(self, request, model, queryset):
        if issubclass(model, CatalogOwned):
            return queryset.restrict(request.user, self.change_capability or self.view_capability)
        return queryset

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if field is not None and hasattr(field, "queryset"):
            field.queryset = self._scoped_choices(request, db_field.related_model,
                                                  field.queryset)
        return field

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        field = super().formfield_for_manytomany(db_field, request, **kwargs)
        if field is not None and hasattr(field, "queryset"):
            field.queryset = self._scoped_choices(request, db_field.related_model,
                                                  field.queryset)
        return field

    # Writes go through the services (saving: ServiceFormAdmin).

    def delete_model(self, request, obj):
        self.service_delete(request.user, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.service_delete(request.user, obj)
