"""Emails in the admin, for global administrators: template overrides and the outbox.

A thin layer over the services: the email template form asks `email_template_check` before
anything is saved, so a refusal shows beside its field; saving and removing go through
`email_template_save` / `email_template_delete`, which audit. The outbox is read-only here.
"""

from contextlib import suppress

from django import forms
from django.conf import settings
from django.contrib import admin
from django.contrib.admin import helpers
from django.contrib.admin.options import IS_POPUP_VAR, csrf_protect_m
from django.contrib.admin.utils import flatten_fieldsets, unquote
from django.core.exceptions import PermissionDenied
from django.utils.html import format_html
from django.utils.text import Truncator
from django.utils.translation import gettext as _

from governance.admin.scoped import (
    AuditedAdmin,
    GlobalAdminOnly,
    ReadOnlyAdmin,
    ServiceCheckedValues,
    adopt,
)
from governance.admin.site import admin_site
from governance.models import EmailTemplate, OutboxMessage
from governance.notifications import TOPICS
from governance.notifications.samples import (
    email_preview,
    file_template_sources,
    record_fields,
    sample_variables,
)
from governance.services.email_templates import (
    email_template_check,
    email_template_delete,
    email_template_save,
)
from governance.services.errors import NotFound, RefusalFormMixin, Refused

SOURCE_WIDGET = {"rows": 14, "cols": 100, "style": "font-family: monospace; width: 100%"}
# What email_template_save takes, as the form names it.
SERVICE_FIELDS = ("topic", "language", "subject", "text_body", "html_body")


class EmailTemplateForm(RefusalFormMixin, ServiceCheckedValues, forms.ModelForm):
    topic = forms.ChoiceField(
        choices=[("", "Choose the email…")] + [
            (topic, f"{topic} — {audience}: {description}")
            for topic, (audience, description) in TOPICS.items()],
        help_text="Which email, who receives it and when.")
    language = forms.ChoiceField(
        choices=[("", "All languages"), *settings.LANGUAGES], required=False,
        help_text="All languages: for everyone without a version in their own language.")

    class Meta:
        model = EmailTemplate
        fields = list(SERVICE_FIELDS)
        widgets = {
            "subject": forms.TextInput(attrs={"style": "width: 100%"}),
            "text_body": forms.Textarea(attrs=SOURCE_WIDGET),
            "html_body": forms.Textarea(attrs=SOURCE_WIDGET),
        }
        labels = {"html_body": "HTML body"}
        help_texts = {
            "subject": "One line, in Django's template language, e.g. "
                       "“Approval needed: {{ request.access_package }}”.",
            "text_body": "The plain text part, in Django's template language. The names each "
                         "email can use are listed below the form.",
            "html_body": "Blank: the text body, with its links, inside the standard HTML "
                         "layout.",
        }

    def service_arguments(self) -> dict:
        return {name: self.cleaned_data.get(name) or "" for name in SERVICE_FIELDS}

    def clean(self):
        # Not ModelForm.clean: the service checks uniqueness too, in its own words.
        if not self.errors:
            try:
                self.cleaned_data.update(email_template_check(
                    template_id=self.instance.pk, **self.service_arguments()))
            except Refused as refusal:
                self.add_refusal(refusal)
        return self.cleaned_data


@admin.register(EmailTemplate, site=admin_site)
class EmailTemplateAdmin(GlobalAdminOnly, AuditedAdmin):
    form = EmailTemplateForm
    list_display = ["topic_and_audience", "language_name", "updated_at", "updated_by"]
    list_filter = ["language"]
    list_select_related = ["updated_by"]
    search_fields = ["topic", "subject"]
    readonly_fields = ["updated_at", "updated_by"]

    @admin.display(description="Topic", ordering="topic")
    def topic_and_audience(self, template: EmailTemplate):
        audience, description = TOPICS.get(template.topic, ("Unknown topic", ""))
        return format_html('{}<br><span class="quiet">{}: {}</span>', template.topic,
                           audience, description)

    @admin.display(description="Language", ordering="language")
    def language_name(self, template: EmailTemplate) -> str:
        return template.get_language_display() or "All languages"

    def get_fieldsets(self, request, obj=None):
        fieldsets = [(None, {"fields": list(SERVICE_FIELDS)})]
        if obj is not None:
            fieldsets.append(("Last change", {"fields": ["updated_at", "updated_by"]}))
        return fieldsets

    def get_changeform_initial_data(self, request):
        """`?topic=…&language=…` starts the new version from that topic's file templates."""
        initial = super().get_changeform_initial_data(request)
        if initial.get("topic") in TOPICS and not initial.get("subject"):
            initial.update(file_template_sources(initial["topic"], initial.get("language", "")))
        return initial

    @csrf_protect_m
    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "topic_variables": [
            (topic, audience, description, sample_variables(topic))
            for topic, (audience, description) in TOPICS.items()],
            "record_fields": record_fields()}
        if request.method == "POST" and "_preview" in request.POST:
            return self._unsaved_form_view(request, object_id, form_url, extra_context,
                                           preview=True)
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except Refused:
            # Another administrator saved the same topic and language a moment earlier:
            # nothing was saved, and the form, checked again, now says so.
            return self._unsaved_form_view(request, object_id, form_url, extra_context,
                                           preview=False)

    def _unsaved_form_view(self, request, object_id, form_url, extra_context, *, preview):
        """The add/change page for the posted form, checked and (preview) rendered with the
        sample, but not saved: Django's changeform_view without its saving branch."""
        add = object_id is None
        if add:
            if not self.has_add_permission(request):
                raise PermissionDenied
            obj = None
        else:
            obj = self.get_object(request, unquote(object_id))
            if not self.has_change_permission(request, obj):
                raise PermissionDenied
            if obj is None:
                return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        fieldsets = self.get_fieldsets(request, obj)
        form_class = self.get_form(request, obj, change=not add,
                                   fields=flatten_fieldsets(fieldsets))
        form = form_class(request.POST, instance=obj)
        rendered = None
        if form.is_valid() and preview:
            try:
                rendered = email_preview(**{name: form.cleaned_data[name]
                                            for name in SERVICE_FIELDS})
            except Refused as refusal:
                form.add_refusal(refusal)
        admin_form = helpers.AdminForm(form, list(fieldsets),
                                       self.get_prepopulated_fields(request, obj),
                                       self.get_readonly_fields(request, obj),
                                       model_admin=self)
        context = {
            **self.admin_site.each_context(request),
            "title": (_("Add %s") if add else _("Change %s")) % self.opts.verbose_name,
            "subtitle": str(obj) if obj else None,
            "adminform": admin_form,
            "object_id": object_id,
            "original": obj,
            "is_popup": IS_POPUP_VAR in request.POST or IS_POPUP_VAR in request.GET,
            "to_field": None,
            "media": self.media + admin_form.media,
            "inline_admin_formsets": [],
            "errors": helpers.AdminErrorList(form, []),
            "preserved_filters": self.get_preserved_filters(request),
            "email_preview": rendered,
            **extra_context,
        }
        return self.render_change_form(request, context, add=add, change=not add, obj=obj,
                                       form_url=form_url)

    def save_model(self, request, obj, form, change):
        saved = email_template_save(actor=request.user, template_id=obj.pk if change else None,
                                    **form.service_arguments())
        adopt(obj, saved)

    def delete_model(self, request, obj):
        # Someone else removed it first: it is gone, as asked.
        with suppress(NotFound):
            email_template_delete(actor=request.user, template_id=obj.pk)

    def delete_queryset(self, request, queryset):
        for template_id in queryset.values_list("pk", flat=True):
            with suppress(NotFound):
                email_template_delete(actor=request.user, template_id=template_id)


@admin.register(OutboxMessage, site=admin_site)
class OutboxMessageAdmin(ReadOnlyAdmin, GlobalAdminOnly, admin.ModelAdmin):
    """Each stored email or webhook: where it stands, how often it was tried, what went wrong.

    Read-only: the outbox's sweeps own these rows.
    """

    list_display = ["created_at", "topic", "to_address", "state", "attempts", "error",
                    "sent_at"]
    list_filter = ["state", "topic", "channel"]
    search_fields = ["to_address"]
    show_full_result_count = False

    @admin.display(description="Last error", ordering="last_error")
    def error(self, message: OutboxMessage) -> str:
        return Truncator(message.last_error).chars(120)
