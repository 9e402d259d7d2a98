"""People and groups of the directory in the admin.

`PersonAdmin` (the People page) is for global administrators and user administrators: they
list people, add them (the joiner, `person_create`), set their attributes, manager and
sponsors (the mover, `person_update`), and deactivate and re-activate them (the leaver),
through governance.services.people, the same services as SCIM. What a provisioning client
manages shows read-only, "managed by <client> provisioning"; the service refuses a change of
it. Global administrators also grant the global roles there (governance.services.global_roles).

Forms of the delegated site name people (approvers, role holders, requestors) and groups
(approver groups, targets, incompatible groups) with autocomplete, which asks the look-up
admins below. They are read-only and search-only, for anyone who may use the admin site, show
nothing but names and addresses, and are not listed on the site's index.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from governance.admin.scoped import (
    PermittedBy,
    ReadOnlyAdmin,
    RefusedSaveReloads,
    ServiceFormAdmin,
    ServiceModelForm,
)
from governance.admin.site import admin_site
from governance.admin.system_columns import SystemAccountsForGlobalAdmins
from governance.choices import AccountState, GlobalRole, UserType
from governance.clock import when_text
from governance.models import AuditEvent, Group, Person, User
from governance.selectors.permissions import can_use_admin, is_global_admin
from governance.services.errors import Refused
from governance.services.global_roles import global_roles_set
from governance.services.people import (
    may_administer_people,
    person_create,
    person_deactivate,
    person_reactivate,
    person_update,
)

TEXT_FIELDS = ("display_name", "first_name", "last_name", *User.PROFILE_FIELDS)
# The form's many-valued fields, by the names the people services give them.
SERVICE_NAMES = {"manager": "manager_id", "sponsors": "sponsor_ids"}
SIGN_IN_HELP = (
    "Their sign-in name. They get no password: they sign in with the organisation's single "
    "sign-on, or with “Sign in with a code” on the sign-in page (a code emailed to this "
    "address; the first time, a second code confirms the address), or they set a password "
    "with “Forgot your password?” there.")


class LookupOnlyAdmin(ReadOnlyAdmin, admin.ModelAdmin):
    actions = None
    show_full_result_count = False

    def has_module_permission(self, request):
        return False

    def has_view_permission(self, request, obj=None):
        return can_use_admin(request.user)

    def history_view(self, request, object_id, extra_context=None):
        # A person's history is the audit log's, for global administrators only.
        raise PermissionDenied


@admin.register(User, site=admin_site)
class PersonLookupAdmin(SystemAccountsForGlobalAdmins, LookupOnlyAdmin):
    list_display = ["display_name", "email"]
    fields = ["display_name", "email"]
    search_fields = ["display_name", "email"]
    ordering = ["display_name", "email"]

    def get_queryset(self, request):
        # Only people who can still act: disabled and deleted accounts are not offered.
        return super().get_queryset(request).filter(is_active=True).exclude(
            account_state=AccountState.DELETED)


@admin.register(Group, site=admin_site)
class GroupLookupAdmin(LookupOnlyAdmin):
    list_display = ["display_name"]
    fields = ["display_name", "description"]
    search_fields = ["display_name"]
    ordering = ["display_name"]


# The People page


class PersonForm(ServiceModelForm):
    """A person's attributes, saved through person_create or person_update.

    Only what changed goes to the service. The fields a provisioning client manages are
    disabled (a browser does not send them); a request that sends one anyway is passed on
    to the service as the change it asks for, and refused there."""

    global_roles = forms.MultipleChoiceField(
        choices=GlobalRole.choices, required=False, widget=forms.CheckboxSelectMultiple,
        label="Global roles",
        help_text="Beyond any one catalog: catalog creators create catalogs, connected "
                  "organisation administrators manage connected organisations, user "
                  "administrators manage people (this page).")

    class Meta:
        model = Person
        fields = ["email", "user_type", *TEXT_FIELDS, "manager", "sponsors"]
        help_texts = {"email": SIGN_IN_HELP,
                      "manager": "Approves their requests where a policy asks their manager.",
                      "sponsors": "Who vouches for them; policies can ask sponsors to "
                                  "approve."}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        person = self.instance
        if not is_global_admin(self.actor):
            self.fields.pop("global_roles")
        if "user_type" in self.fields:
            self.fields["user_type"].choices = [(UserType.MEMBER, UserType.MEMBER.label),
                                                (UserType.GUEST, UserType.GUEST.label)]
        if person.pk is None:
            self.fields["email"].required = True
            self.current, self.managed = {}, set()
            return
        self.current = {**{name: getattr(person, name) for name in TEXT_FIELDS},
                        "manager_id": person.manager_id,
                        "sponsor_ids": set(person.sponsors.values_list("pk", flat=True))}
        if "global_roles" in self.fields:
            self.current["global_roles"] = set(person.global_roles.values_list("role",
                                                                               flat=True))
            self.initial["global_roles"] = sorted(self.current["global_roles"])
        kept = set(person.provisioned_fields or []) if person.provisioned_by_id else set()
        self.managed = {name for name in self.fields
                        if SERVICE_NAMES.get(name, name) in kept}
        for name in self.managed:
            field = self.fields[name]
            field.disabled = True
            field.help_text = f"managed by {person.provisioned_by.display_name} provisioning"

    def _value(self, name):
        value = self.cleaned_data.get(name)
        if name == "manager":
            return value.pk if value else None
        if name == "sponsors":
            return {sponsor.pk for sponsor in value or []}
        return value or ""

    def _forged(self) -> dict:
        """What a request sent for the disabled (managed) fields, as service values."""
        forged = {}
        for name in sorted(self.managed):
            field, key = self.fields[name], self.add_prefix(name)
            if key not in self.data:
                continue
            raw = (self.data.getlist(key) if hasattr(self.data, "getlist")
                   and name == "sponsors" else self.data.get(key))
            try:
                value = field.clean(raw)
            except ValidationError:
                value = raw  # the service says what is wrong with it, or that it is managed
            if name == "manager":
                value = getattr(value, "pk", value) or None
            elif name == "sponsors":
                value = [getattr(sponsor, "pk", sponsor) for sponsor in value or []]
            forged[SERVICE_NAMES.get(name, name)] = value
        return forged

    def changes(self) -> dict:
        """The values that differ from the person's, by the services' names."""
        changes = {}
        for name in self.fields:
            service_name = SERVICE_NAMES.get(name, name)
            if name in self.managed or service_name not in self.current \
                    or name == "global_roles":
                continue
            value = self._value(name)
            if value != self.current[service_name]:
                changes[service_name] = sorted(value) if name == "sponsors" else value
        return {**changes, **self._forged()}

    def service_save(self, actor):
        if self.instance.pk is None:
            values = {"email": self.cleaned_data.get("email") or "",
                      "user_type": self.cleaned_data.get("user_type") or UserType.MEMBER}
            for name in (*TEXT_FIELDS, "manager", "sponsors"):
                value = self._value(name)
                if value:
                    values[SERVICE_NAMES.get(name, name)] = (sorted(value)
                                                             if name == "sponsors" else value)
            person = person_create(actor=actor, values=values)
        else:
            changes = self.changes()
            person = (person_update(actor=actor, user_id=self.instance.pk, changes=changes)
                      if changes else User.objects.get(pk=self.instance.pk))
        if "global_roles" in self.fields and set(self.cleaned_data.get("global_roles") or []) \
                != self.current.get("global_roles", set()):
            global_roles_set(actor=actor, user_id=person.pk,
                             roles=self.cleaned_data.get("global_roles") or [])
        return person


class DeactivateForm(forms.Form):
    reason = forms.CharField(
        max_length=200, label="Reason", widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Kept in the audit log with the deactivation (they left, say, on 31 March).")


class UserAdministrators(PermittedBy):
    """Global administrators and user administrators, and nobody else. People are never
    deleted: they leave (Deactivate), and their row stays for the audit log."""

    permitted = staticmethod(may_administer_people)
    deletable = False


class ProvisionedByFilter(admin.RelatedOnlyFieldListFilter):
    title = "provisioned by"


@admin.register(Person, site=admin_site)
class PersonAdmin(RefusedSaveReloads, UserAdministrators, ServiceFormAdmin):
    form = PersonForm
    list_display = ["display_name", "email", "user_type", "department", "job_title", "manager",
                    "active", "provisioned_by"]
    list_filter = [("is_active", admin.BooleanFieldListFilter), "user_type",
                   ("department", admin.AllValuesFieldListFilter),
                   ("provisioned_by", ProvisionedByFilter)]
    list_select_related = ["manager", "provisioned_by"]
    search_fields = ["display_name", "email", "first_name", "last_name"]
    ordering = ["display_name", "email"]
    autocomplete_fields = ["manager", "sponsors"]
    actions = None
    change_form_template = "admin/governance/person/change_form.html"
    change_list_template = "admin/governance/person/change_list.html"
    STATUS_FIELDS = ["status", "provisioning", "last_login", "date_joined"]

    def get_queryset(self, request):
        return super().get_queryset(request).exclude(user_type=UserType.SERVICE) \
            .exclude(account_state=AccountState.DELETED)

    def get_fieldsets(self, request, obj=None):
        fieldsets = [
            (None, {"fields": ["email", "user_type"] if obj is None
                    else ["email", *self.STATUS_FIELDS]}),
            ("Name", {"fields": ["display_name", "first_name", "last_name"]}),
            ("Job", {"fields": ["department", "job_title", "employee_id", "employee_type",
                                "company_name", "division", "office_location", "cost_center"]}),
            ("Manager and sponsors", {"fields": ["manager", "sponsors"]}),
        ]
        if is_global_admin(request.user):
            fieldsets.append(("Roles", {"fields": ["global_roles"]}))
        return fieldsets

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else ["email", *self.STATUS_FIELDS]

    @admin.display(description="Active", boolean=True, ordering="is_active")
    def active(self, person: User) -> bool:
        return person.is_active

    @admin.display(description="Status")
    def status(self, person: User) -> str:
        if person.is_active:
            return "Active"
        when = f" since {when_text(person.deactivated_at)}" if person.deactivated_at else ""
        return f"Deactivated{when}: sign-in refused, access removed."

    @admin.display(description="Provisioning")
    def provisioning(self, person: User) -> str:
        if person.provisioned_by_id is None:
            return "None: the portal's own person; everything here may be changed."
        return (f"By {person.provisioned_by.display_name}, which manages: "
                f"{', '.join(sorted(person.provisioned_fields or [])) or 'nothing yet'}.")

    def save_related(self, request, form, formsets, change):
        """The sponsors were saved by the service in save_model; nothing is left to save."""

    # Deactivate and re-activate: GET asks, POST acts.

    def get_urls(self):
        wrap = self.admin_site.admin_view
        info = f"{self.opts.app_label}_{self.opts.model_name}"
        return [
            path("<path:object_id>/deactivate/", wrap(self.deactivate_view),
                 name=f"{info}_deactivate"),
            path("<path:object_id>/reactivate/", wrap(self.reactivate_view),
                 name=f"{info}_reactivate"),
            *super().get_urls(),
        ]

    def _person(self, request, object_id) -> User:
        person = self.get_object(request, unquote(object_id))
        if person is None:
            raise Http404("No such person.")
        if not self.has_change_permission(request, person):
            raise PermissionDenied
        return person

    def _change_url(self, person) -> str:
        return reverse("admin:governance_person_change", args=[person.pk])

    def _confirm_page(self, request, person, form, action: str, context: dict):
        context = {**self.admin_site.each_context(request), "opts": self.opts,
                   "original": person, "form": form, "action": action, **context}
        return TemplateResponse(request, "admin/governance/person/confirm.html", context)

    def deactivate_view(self, request, object_id):
        person = self._person(request, object_id)
        form = DeactivateForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                person_deactivate(actor=request.user, user_id=person.pk,
                                  reason=form.cleaned_data["reason"])
            except Refused as refusal:
                messages.error(request, f"{person} was not deactivated: {refusal.message}")
            else:
                messages.success(request, f"{person} is deactivated: they can no longer sign "
                                          "in, their access is removed and what they were to "
                                          "approve or review is handed on.")
            return redirect(self._change_url(person))
        return self._confirm_page(request, person, form, "Deactivate", {
            "title": f"Deactivate {person}",
            "intro": "They can no longer sign in, their sessions and tokens end, every "
                     "access package assignment they hold is removed and their pending "
                     "requests are cancelled; approvals and reviews waiting on them are "
                     "handed on. Re-activating them later restores sign-in, not access."})

    def reactivate_view(self, request, object_id):
        person = self._person(request, object_id)
        if request.method == "POST":
            try:
                person_reactivate(actor=request.user, user_id=person.pk)
            except Refused as refusal:
                messages.error(request, f"{person} was not re-activated: {refusal.message}")
            else:
                messages.success(request, f"{person} is active again and may sign in. The "
                                          "access removed when they left stays removed.")
            return redirect(self._change_url(person))
        return self._confirm_page(request, person, None, "Re-activate", {
            "title": f"Re-activate {person}",
            "intro": "They may sign in again. The access removed when they were deactivated "
                     "is not given back: they request it again, or are assigned it."})

    def history_view(self, request, object_id, extra_context=None):
        # The audit log names these rows "user" (the concrete model), not "person".
        obj = self.get_object(request, unquote(object_id))
        if obj is None or not self.has_view_permission(request, obj):
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        events = AuditEvent.objects.filter(object_type="user",
                                           object_id=str(obj.pk)).order_by("-at", "-id")[:200]
        context = {**self.admin_site.each_context(request), "title": f"History: {obj}",
                   "object": obj, "opts": self.opts, "events": events,
                   **(extra_context or {})}
        return TemplateResponse(request, "admin/governance/audit_history.html", context)
