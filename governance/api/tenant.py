"""Tenant settings: /identityGovernance/entitlementManagement/settings
(entitlementManagementSettings).

Anyone with an administrative role (global, catalog or connected organizations) and API
clients read them; the service decides who changes them (global administrators).
"""

import datetime

from django.urls import path

from governance.choices import ExternalUserLifecycleAction
from governance.models import TenantSettings
from governance.selectors.visibility import may_read_tenant_settings
from governance.services.guests import DELETION_DAYS_MAX, tenant_settings_update

from . import odata
from .base import EM, GraphType, GraphView
from .errors import GraphError
from .graph_json import Body, duration

SETTINGS = f"{EM}/settings"
DURATION = "durationUntilExternalUserDeletedAfterBlocked"
SETTINGS_PROPERTIES = ("externalUserLifecycleAction", DURATION, "id")

SETTINGS_FIELDS = {
    "id": odata.ident("pk"),
    "externalUserLifecycleAction": odata.enum("external_user_lifecycle_action",
                                              ExternalUserLifecycleAction.values),
    DURATION: odata.integer("days_until_external_user_deleted_after_blocked"),
}


def settings_json(settings: TenantSettings, expand=()) -> dict:
    days = settings.days_until_external_user_deleted_after_blocked
    return {
        "id": str(settings.pk),
        "externalUserLifecycleAction": settings.external_user_lifecycle_action,
        DURATION: duration(datetime.timedelta(days=days)),
    }


SETTINGS_TYPE = GraphType("entitlementManagementSettings", SETTINGS_FIELDS, settings_json)


def _settings(user) -> TenantSettings:
    if not may_read_tenant_settings(user):
        raise GraphError("Only administrators (global, catalog or connected organization "
                         "roles) read the entitlement management settings.",
                         code="Authorization_RequestDenied", status=403)
    return TenantSettings.current()


def _days(body: Body, current: TenantSettings) -> int:
    """Whole days from the ISO 8601 duration (absent or null: the current number)."""
    if body.data.get(DURATION) is None:
        return current.days_until_external_user_deleted_after_blocked
    value = body.duration(DURATION)
    if value % datetime.timedelta(days=1):
        raise GraphError(f"{DURATION}: '{body.data[DURATION]}' is not a whole number of days "
                         "(e.g. P30D).")
    if not 1 <= value.days <= DELETION_DAYS_MAX:
        raise GraphError(f"{DURATION}: must be between P1D and P{DELETION_DAYS_MAX}D.")
    return value.days


class SettingsDetail(GraphView):
    graph_type, body_properties = SETTINGS_TYPE, SETTINGS_PROPERTIES

    def get(self, request):
        return self.entity(_settings(request.user), SETTINGS_TYPE, SETTINGS)

    def patch(self, request):
        current = _settings(request.user)
        body = Body(self.body(), SETTINGS_PROPERTIES, "entitlementManagementSettings")
        action = body.enum("externalUserLifecycleAction", ExternalUserLifecycleAction.values,
                           current.external_user_lifecycle_action)
        tenant_settings_update(actor=request.user, external_user_lifecycle_action=action,
                               days_until_external_user_deleted_after_blocked=_days(body,
                                                                                    current))
        return self.no_content()


urlpatterns = [
    path(SETTINGS, SettingsDetail.as_view()),
]
