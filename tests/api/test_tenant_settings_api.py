"""settings (entitlementManagementSettings): read by administrators and API clients, changed by
global administrators through the service."""

from governance.choices import GlobalRole
from governance.models import GlobalRoleAssignment, TenantSettings
from tests.api.conftest import EM, assert_graph_error, person_client
from tests.factories import UserFactory

SETTINGS = f"{EM}/settings"


def _stored() -> tuple[str, int]:
    settings = TenantSettings.current()
    return (settings.external_user_lifecycle_action,
            settings.days_until_external_user_deleted_after_blocked)


def test_settings_read_as_graph_writes_them(world, callers):
    body = callers.reader.get(SETTINGS).json()
    assert body["@odata.context"].endswith(
        "$metadata#identityGovernance/entitlementManagement/settings/$entity")
    assert body["externalUserLifecycleAction"] == "blockSignInAndDelete"
    assert body["durationUntilExternalUserDeletedAfterBlocked"] == "P30D"
    selected = callers.reader.get(SETTINGS, {"$select": "externalUserLifecycleAction"}).json()
    assert "durationUntilExternalUserDeletedAfterBlocked" not in selected
    assert_graph_error(callers.reader.get(SETTINGS, {"$top": "1"}), 400, "$top")


def test_writer_changes_the_settings(world, callers):
    response = callers.writer.patch(SETTINGS, {
        "externalUserLifecycleAction": "blockSignIn",
        "durationUntilExternalUserDeletedAfterBlocked": "P45D"}, format="json")
    assert response.status_code == 204, response.content
    assert _stored() == ("blockSignIn", 45)
    # Only the action: the number of days stays; the SDK's str(timedelta) is understood.
    callers.writer.patch(SETTINGS, {"externalUserLifecycleAction": "blockSignInAndDelete"},
                         format="json")
    assert _stored() == ("blockSignInAndDelete", 45)
    callers.writer.patch(SETTINGS, {"durationUntilExternalUserDeletedAfterBlocked":
                                    "60 days, 0:00:00"}, format="json")
    assert _stored() == ("blockSignInAndDelete", 60)
    assert callers.owner.get(SETTINGS).json()[
        "durationUntilExternalUserDeletedAfterBlocked"] == "P60D"


def test_bad_bodies_change_nothing(world, callers):
    for body, words in (
            ({"externalUserLifecycleAction": "delete"}, ("externalUserLifecycleAction",
                                                         "blockSignIn")),
            ({"durationUntilExternalUserDeletedAfterBlocked": "thirty days"},
             ("durationUntilExternalUserDeletedAfterBlocked", "ISO 8601")),
            ({"durationUntilExternalUserDeletedAfterBlocked": "PT12H"}, ("whole number",)),
            ({"durationUntilExternalUserDeletedAfterBlocked": "P4000D"}, ("P3660D",)),
            ({"durationUntilExternalUserDeletedAfterBlocked": "P1M"}, ("months",)),
            ({"externalUserLifecycleAction": "none", "colour": "red"}, ("colour",))):
        assert_graph_error(callers.writer.patch(SETTINGS, body, format="json"), 400, *words)
    response = callers.writer.generic("PATCH", SETTINGS, "[1,", content_type="application/json")
    assert_graph_error(response, 400, "JSON")
    assert _stored() == ("blockSignInAndDelete", 30)


def test_permissions(world, callers):
    change = {"externalUserLifecycleAction": "none"}
    assert callers.owner.get(SETTINGS).status_code == 200  # a catalog role reads
    assert callers.stranger.get(SETTINGS).status_code == 200
    organizations = UserFactory(email="orgs@access.example")
    GlobalRoleAssignment.objects.create(user=organizations,
                                        role=GlobalRole.CONNECTED_ORG_ADMIN)
    administrator = person_client(organizations)
    assert administrator.get(SETTINGS).status_code == 200
    assert_graph_error(callers.anonymous.get(SETTINGS), 401)
    assert_graph_error(callers.anonymous.patch(SETTINGS, change, format="json"), 401)
    assert_graph_error(callers.member.get(SETTINGS), 403, "administrators")
    assert_graph_error(callers.reader.patch(SETTINGS, change, format="json"), 403,
                       "EntitlementManagement.ReadWrite.All")
    for client in (callers.owner, callers.stranger, administrator, callers.member):
        assert_graph_error(client.patch(SETTINGS, change, format="json"), 403)
    assert _stored() == ("blockSignInAndDelete", 30)


def test_a_duration_past_what_python_holds_is_a_400(world, callers):
    response = callers.writer.patch(SETTINGS, {
        "durationUntilExternalUserDeletedAfterBlocked": "P99999999999D"}, format="json")
    assert_graph_error(response, 400, "far too long")
