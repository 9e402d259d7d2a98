"""Configuring custom extensions (catalog owners) and the stages of a policy that call them
(owners and package managers): each refusal names its field and saves nothing; the secret is
never returned nor written to the audit log."""

from datetime import timedelta

import pytest

from governance.choices import CatalogRole, CustomExtensionBehavior, CustomExtensionStage
from governance.models import AuditEvent, CustomExtension, PolicyExtensionStage
from governance.services.errors import InvalidInput, InvalidState, NotAllowed
from governance.services.extension_config import (
    extension_delete,
    extension_save,
    policy_extension_stages_set,
)
from tests.extension_helpers import allow_outbound
from tests.factories import (
    CatalogFactory,
    PackageFactory,
    PolicyFactory,
    UserFactory,
    role_holder,
)

Stage = CustomExtensionStage
WAIT = CustomExtensionBehavior.LAUNCH_AND_WAIT
SECRET = "a-secret-of-sixteen-or-more"
URL = "https://hooks.contoso.example/access"
# Their extensions call hosts that never resolve: a global administrator allow-lists them.
pytestmark = pytest.mark.usefixtures("fictional_hooks_allowed")


def save(world, actor=None, **fields):
    arguments = {"catalog_id": world.catalog.pk, "display_name": "Compliance check",
                 "endpoint_url": URL, "behavior": WAIT,
                 "callback_timeout": timedelta(hours=1), "secret_value": SECRET}
    return extension_save(actor=actor or world.owner, **(arguments | fields))


def configured() -> dict:
    return {"extensions": sorted(CustomExtension.objects.values_list(
                "id", "display_name", "endpoint_url", "behavior", "callback_timeout",
                "secret_env", "secret_encrypted")),
            "stages": sorted(PolicyExtensionStage.objects.values_list("policy_id", "stage",
                                                                      "extension_id")),
            "audit": AuditEvent.objects.count()}


def refused(action, error, field, *words):
    before = configured()
    with pytest.raises(error) as caught:
        action()
    assert getattr(caught.value, "field", field) == field
    for word in words:
        assert word in caught.value.message, caught.value.message
    assert configured() == before


def test_an_owner_adds_an_extension_whose_secret_is_stored_encrypted_and_never_audited(world):
    extension = save(world)
    assert extension.secret() == SECRET and SECRET not in extension.secret_encrypted
    assert extension.secret_env == ""
    event = AuditEvent.objects.get(action="extension.created")
    assert SECRET not in str(event.after) and event.after["secret"] == "stored encrypted"
    # A blank secret keeps it; a new one replaces it, which the log says without the value.
    save(world, extension_id=extension.pk, secret_value="", display_name="Compliance")
    extension.refresh_from_db()
    assert extension.secret() == SECRET
    save(world, extension_id=extension.pk, secret_value="another-long-secret-value")
    changed = AuditEvent.objects.filter(action="extension.changed").order_by("id").last()
    assert changed.after["secretReplaced"] is True
    assert "another-long-secret-value" not in str(changed.after)


def test_a_secret_from_the_environment(world, monkeypatch):
    monkeypatch.setenv("PORTAL_SECRET_COMPLIANCE_HOOK", SECRET)
    extension = save(world, secret_value="", secret_env="PORTAL_SECRET_COMPLIANCE_HOOK")
    assert (extension.secret_env, extension.secret_encrypted) == (
        "PORTAL_SECRET_COMPLIANCE_HOOK", "")
    assert extension.secret() == SECRET
    refused(lambda: save(world, display_name="Other", secret_value="",
                         secret_env="PORTAL_SECRET_NOT_SET_ANYWHERE"), InvalidInput, "secret_env",
            "PORTAL_SECRET_NOT_SET_ANYWHERE", "not set")


@pytest.mark.parametrize(("fields", "field", "words"), [
    ({"endpoint_url": "http://hooks.fabrikam.example/access"}, "endpoint_url", "https://"),
    ({"endpoint_url": "hooks"}, "endpoint_url", "address"),
    ({"callback_timeout": None}, "callback_timeout", "5 minutes to 14 days"),
    ({"callback_timeout": timedelta(minutes=4)}, "callback_timeout", "5 minutes"),
    ({"callback_timeout": timedelta(days=15)}, "callback_timeout", "14 days"),
    ({"behavior": "sometimes"}, "behavior", "waits"),
    ({"secret_value": ""}, "secret_value", "secret"),
    ({"secret_value": "short"}, "secret_value", "16 characters"),
    ({"secret_env": "X", "secret_value": SECRET}, "secret_value", "not both"),
    ({"secret_env": "NOT A NAME", "secret_value": ""}, "secret_env", "letters"),
    ({"display_name": "  "}, "display_name", "name"),
], ids=lambda value: str(value)[:40])
def test_invalid_extensions_are_refused_beside_their_field(world, fields, field, words):
    refused(lambda: save(world, **fields), InvalidInput, field, words)


def test_plain_http_is_allowed_to_allow_listed_hosts_only(world):
    refused(lambda: save(world, endpoint_url="http://127.0.0.1:8080/hook"), InvalidInput,
            "endpoint_url", "https://")
    allow_outbound("127.0.0.1")
    assert save(world, endpoint_url="http://127.0.0.1:8080/hook").endpoint_url.startswith(
        "http://127.0.0.1")


def test_only_the_catalog_owner_manages_its_extensions(world):
    manager = role_holder(world.catalog, CatalogRole.PACKAGE_MANAGER,
                          email="manager@access.example")
    stranger_catalog = CatalogFactory(display_name="Finance")
    stranger = role_holder(stranger_catalog, CatalogRole.OWNER, email="fin@access.example")
    for person in (manager, stranger, world.requester):
        refused(lambda person=person: save(world, actor=person), NotAllowed, None, "catalog")
    extension = save(world)
    refused(lambda: save(world, actor=manager, extension_id=extension.pk), NotAllowed, None)
    refused(lambda: extension_delete(actor=stranger, extension_id=extension.pk), NotAllowed,
            None)


def test_the_name_is_unique_within_the_catalog(world):
    save(world)
    refused(lambda: save(world, display_name="COMPLIANCE CHECK"), InvalidInput,
            "display_name", "already has")


def test_policy_stages_call_extensions_of_the_policy_catalog(world):
    waits = save(world)
    notice = save(world, display_name="Notice", behavior="launchAndContinue",
                  callback_timeout=None)
    manager = role_holder(world.catalog, CatalogRole.PACKAGE_MANAGER,
                          email="manager@access.example")
    rows = policy_extension_stages_set(
        actor=manager, policy_id=world.policy.pk,
        stages=[(Stage.REQUEST_CREATED, waits.pk), (Stage.REQUEST_GRANTED, notice.pk)])
    assert {(row.stage, row.extension_id) for row in rows} == {
        (Stage.REQUEST_CREATED, waits.pk), (Stage.REQUEST_GRANTED, notice.pk)}
    event = AuditEvent.objects.get(action="policy.extensionStagesChanged")
    assert event.after == {"extensionStages": {Stage.REQUEST_CREATED: waits.pk,
                                               Stage.REQUEST_GRANTED: notice.pk}}
    # The same list again changes nothing; a shorter one removes the rest.
    policy_extension_stages_set(actor=manager, policy_id=world.policy.pk, stages=[
        (Stage.REQUEST_CREATED, waits.pk), (Stage.REQUEST_GRANTED, notice.pk)])
    assert AuditEvent.objects.filter(action="policy.extensionStagesChanged").count() == 1
    policy_extension_stages_set(actor=manager, policy_id=world.policy.pk,
                                stages=[(Stage.REQUEST_APPROVED, waits.pk)])
    assert list(world.policy.extension_stages.values_list("stage", flat=True)) == [
        Stage.REQUEST_APPROVED]


def test_invalid_policy_stages_are_refused(world):
    waits = save(world)
    notice = save(world, display_name="Notice", behavior="launchAndContinue",
                  callback_timeout=None)
    finance = CatalogFactory(display_name="Finance")
    finance_owner = role_holder(finance, CatalogRole.OWNER, email="fin@access.example")
    finance_policy = PolicyFactory(access_package=PackageFactory(catalog=finance))
    foreign = extension_save(actor=finance_owner, catalog_id=finance.pk, display_name="Ledger",
                             endpoint_url=URL, secret_value=SECRET)
    cases = [
        ([(Stage.REQUEST_GRANTED, waits.pk)], "extension", "only"),
        ([(Stage.REQUEST_CREATED, waits.pk), (Stage.REQUEST_CREATED, notice.pk)], "stage",
         "twice"),
        ([("sometime", waits.pk)], "stage", "stage"),
        ([(Stage.REQUEST_CREATED, foreign.pk)], "extension", "“Projects”"),
    ]
    for stages, field, word in cases:
        refused(lambda stages=stages: policy_extension_stages_set(
            actor=world.owner, policy_id=world.policy.pk, stages=stages), InvalidInput, field,
                word)
    refused(lambda: policy_extension_stages_set(
        actor=world.owner, policy_id=finance_policy.pk,
        stages=[(Stage.REQUEST_CREATED, foreign.pk)]), NotAllowed, None)
    reader = role_holder(world.catalog, CatalogRole.READER, email="reader@access.example")
    refused(lambda: policy_extension_stages_set(
        actor=reader, policy_id=world.policy.pk, stages=[]), NotAllowed, None)


def test_an_extension_in_use_cannot_start_waiting_nor_be_deleted(world):
    notice = save(world, display_name="Notice", behavior="launchAndContinue",
                  callback_timeout=None)
    policy_extension_stages_set(actor=world.owner, policy_id=world.policy.pk,
                                stages=[(Stage.REQUEST_REMOVED, notice.pk)])
    refused(lambda: save(world, extension_id=notice.pk, display_name="Notice"),
            InvalidInput, "behavior", "Assignment is removed", "Contoso partners")
    refused(lambda: extension_delete(actor=world.owner, extension_id=notice.pk), InvalidState,
            None, "Contoso partners")
    policy_extension_stages_set(actor=world.owner, policy_id=world.policy.pk, stages=[])
    extension_delete(actor=world.owner, extension_id=notice.pk)
    assert not CustomExtension.objects.filter(pk=notice.pk).exists()
    assert AuditEvent.objects.filter(action="extension.deleted").count() == 1


def test_an_empty_catalog_is_deleted_with_its_extensions(world):
    from governance.services.catalogs import catalog_create, catalog_delete

    admin = UserFactory(email="admin@access.example", is_superuser=True)
    catalog = catalog_create(actor=admin, display_name="Short-lived")
    save(world, actor=admin, catalog_id=catalog.pk)
    catalog_delete(actor=admin, catalog_id=catalog.pk)
    assert not CustomExtension.objects.exists()
    event = AuditEvent.objects.get(action="catalog.deleted")
    assert event.details["customExtensions"] == ["Compliance check"]
