"""What the package builder's admin pages (catalogs, resources, packages, policies) share.

- `BuilderAdmin`: a ScopedAdmin whose related objects and inlines are saved by services, never
  by Django's `save_m2m` or `formset.save()`; a delete that its service would refuse says why
  on the object's page instead of asking for confirmation; and a refusal that only the real
  save meets (someone changed the data a moment earlier) becomes a message, with nothing
  saved.
- `ScopedInline`: inline permissions asked of the parent object's catalog.
- `ServiceInlineFormSet`: an inline formset whose `service_apply` is checked in a rolled-back
  savepoint when the formset is cleaned (its refusal shows above the inline) and run for real
  when the admin saves it.
- `catalog_filter`: a list filter offering only the catalogs the person may read.
"""

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet
from django.shortcuts import redirect
from django.urls import reverse

from governance.admin.scoped import RefusedSaveReloads, ScopedAdmin, refusal_of
from governance.models.visibility import catalog_id_of
from governance.selectors.permissions import Capability, can, can_anywhere
from governance.selectors.visibility import catalogs_visible_to
from governance.services.errors import Refused


def catalog_filter(path: str):
    """A list filter by catalog, offering only the catalogs the person may read."""

    class CatalogFilter(admin.SimpleListFilter):
        title = "catalog"
        parameter_name = "catalog"

        def lookups(self, request, model_admin):
            return list(catalogs_visible_to(request.user).order_by("display_name")
                        .values_list("pk", "display_name"))

        def queryset(self, request, queryset):
            if self.value():
                return queryset.filter(**{path: self.value()})
            return queryset

    return CatalogFilter


class BuilderAdmin(RefusedSaveReloads, ScopedAdmin):
    actions = None  # no bulk delete: each deletion is checked and explained one by one

    def _object_url(self, obj) -> str:
        opts = self.opts
        return reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk],
                       current_app=self.admin_site.name)

    def delete_view(self, request, object_id, extra_context=None):
        obj = self.get_object(request, unquote(object_id))
        if obj is not None and self.has_delete_permission(request, obj):
            refusal = refusal_of(lambda: self.service_delete(request.user, obj))
            if refusal is not None:
                messages.error(request, f"“{obj}” cannot be deleted: {refusal.message}")
                return redirect(self._object_url(obj))
        try:
            return super().delete_view(request, object_id, extra_context)
        except Refused as refusal:
            messages.error(request, f"Nothing was deleted: {refusal.message}")
            return redirect(request.get_full_path())

    def save_related(self, request, form, formsets, change):
        # Not form.save_m2m(): the form's service has written the many-to-many fields.
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    def save_formset(self, request, form, formset, change):
        formset.service_apply(request.user)


class ScopedInline:
    """Inline permissions from the parent object's catalog (on an add page: any catalog)."""

    capability = Capability.PACKAGES

    def _allowed(self, request, obj, capability) -> bool:
        if obj is None or obj.pk is None:
            return can_anywhere(request.user, capability)
        return can(request.user, catalog_id_of(obj), capability)

    def has_view_permission(self, request, obj=None):
        return self._allowed(request, obj, Capability.READ)

    def has_add_permission(self, request, obj=None):
        return self._allowed(request, obj, self.capability)

    def has_change_permission(self, request, obj=None):
        return self._allowed(request, obj, self.capability)

    def has_delete_permission(self, request, obj=None):
        return self._allowed(request, obj, self.capability)

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        return type(formset.__name__, (formset,), {"actor": request.user})


class ServiceInlineFormSet(BaseInlineFormSet):
    actor = None

    def changes(self) -> list:
        """The service calls (callables) this formset stands for, in the order to make them."""
        raise NotImplementedError

    def validate_unique(self):
        """The services refuse duplicates in their own words."""

    def clean(self):
        super().clean()
        if any(self.errors) or self.instance.pk is None:
            return
        refusal = refusal_of(lambda: [change() for change in self.changes()])
        if refusal is not None:
            raise ValidationError(refusal.message)

    def live_forms(self):
        """(form, deleted) of each form that stands for a row, kept, changed or new."""
        for form in self.forms:
            deleted = self.can_delete and self._should_delete_form(form)
            if form.instance.pk is None and (deleted or not form.has_changed()):
                continue
            yield form, deleted

    def service_apply(self, actor) -> None:
        self.actor = actor
        for change in self.changes():
            change()
        # What Django's change message reads after formset.save().
        self.new_objects, self.changed_objects, self.deleted_objects = [], [], []
