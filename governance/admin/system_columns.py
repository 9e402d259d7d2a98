"""What other admins show of target systems: a system's last test, a resource's system with
its "Test connection" button, the system of each delivery row, and a person's accounts in
the systems. The TargetSystem admin itself is governance.admin.systems.
"""

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from governance.choices import DeliveryState
from governance.clock import when_text
from governance.models import RoleDelivery, SystemAccount, TargetSystem, User
from governance.selectors.deliveries import system_label
from governance.selectors.permissions import Capability, can, is_global_admin
from governance.services.errors import Refused
from governance.services.systems import system_check


def check_status(system: TargetSystem) -> str:
    """"Connected (27 Nov 2026, 08:30): <what it said>", "Failed (…): …" or "Not tested yet"."""
    if system.last_check_ok is None or system.last_checked_at is None:
        return "Not tested yet"
    outcome = "Connected" if system.last_check_ok else "Failed"
    said = f": {system.last_check_message}" if system.last_check_message else ""
    return f"{outcome} ({when_text(system.last_checked_at)}){said}"


def report_check(request, system: TargetSystem, actor) -> None:
    """Test the system's connection now and say what it answered, as a message."""
    try:
        ok, message = system_check(actor=actor, system_id=system.pk)
    except Refused as refusal:
        messages.error(request, refusal.message)
        return
    if ok:
        messages.success(request, f"Test connection to “{system}” succeeded: {message}")
    else:
        messages.error(request, f"The connection to “{system}” failed: {message}")


class ResourceSystemAdmin:
    """For ResourceAdmin: the resource's system and its last test, and "Test connection"."""

    def get_urls(self):
        info = f"{self.opts.app_label}_{self.opts.model_name}"
        return [path("<path:object_id>/check/", self.admin_site.admin_view(self.check_view),
                     name=f"{info}_check"), *super().get_urls()]

    def _may_check(self, request, resource) -> bool:
        return resource.system_id is not None and can(request.user, resource.catalog_id,
                                                      Capability.CATALOG)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        resource = self.get_object(request, unquote(object_id))
        extra_context = {**(extra_context or {}), "can_check_system":
                         resource is not None and self._may_check(request, resource)}
        return super().change_view(request, object_id, form_url, extra_context)

    def check_view(self, request, object_id):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        resource = self.get_object(request, unquote(object_id))
        if resource is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not self._may_check(request, resource):
            raise PermissionDenied
        report_check(request, resource.system, request.user)
        return HttpResponseRedirect(reverse(
            f"admin:{self.opts.app_label}_{self.opts.model_name}_change",
            args=[resource.pk], current_app=self.admin_site.name))

    @admin.display(description="Delivered into")
    def system_status(self, resource) -> str:
        if resource.system_id is None:
            return f"{system_label(resource)}: the portal's own groups, in its database."
        system = resource.system
        return f"{system} ({system.get_kind_display()}) · {check_status(system)}"


class DeliverySystemColumns:
    """For the delivery rows of an assignment: the system of each, and its next retry."""

    @admin.display(description="System")
    def system(self, delivery: RoleDelivery) -> str:
        return system_label(delivery.role.resource)

    @admin.display(description="Next retry")
    def next_retry(self, delivery: RoleDelivery) -> str:
        return when_text(delivery.next_attempt_at) if delivery.last_error and \
            delivery.next_attempt_at and delivery.state == DeliveryState.PENDING else "—"


def system_accounts_table(user: User):
    accounts = SystemAccount.objects.filter(user=user).select_related("system") \
        .order_by("system__display_name")
    rows = format_html_join("", "<tr><td>{}</td><td><code>{}</code></td><td>{}</td>"
                                "<td>{}</td><td>{}</td></tr>", (
        (account.system, account.external_id, account.get_state_display(),
         _pending(account), account.last_error or "—") for account in accounts))
    if not rows:
        return "No account in a target system."
    return format_html('<table><thead><tr><th scope="col">System</th><th scope="col">Id '
                       'there</th><th scope="col">State</th><th scope="col">Still to do</th>'
                       '<th scope="col">Last error</th></tr></thead><tbody>{}</tbody></table>',
                       rows)


def _pending(account: SystemAccount) -> str:
    if not account.pending_action:
        return "—"
    text = account.get_pending_action_display()
    if account.next_attempt_at:
        text += f", next try {when_text(account.next_attempt_at)}"
    if account.attempts:
        text += f" ({account.attempts} attempt{'s' if account.attempts != 1 else ''} so far)"
    return text


class SystemAccountsColumn:
    """For an admin of people: their accounts in the target systems."""

    @admin.display(description="Accounts in target systems")
    def system_accounts(self, user: User):
        return system_accounts_table(user)


class SystemAccountsForGlobalAdmins(SystemAccountsColumn):
    """The same, shown only to global administrators (on a page others may open too)."""

    def _with_accounts(self, request, obj, fields) -> list:
        fields = list(fields)
        if obj is not None and is_global_admin(request.user):
            fields.append("system_accounts")
        return fields

    def get_fields(self, request, obj=None):
        return self._with_accounts(request, obj, super().get_fields(request, obj))

    def get_readonly_fields(self, request, obj=None):
        return self._with_accounts(request, obj, super().get_readonly_fields(request, obj))


__all__ = ["DeliverySystemColumns", "ResourceSystemAdmin", "SystemAccountsColumn",
           "SystemAccountsForGlobalAdmins", "check_status", "report_check"]
