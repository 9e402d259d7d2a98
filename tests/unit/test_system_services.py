"""Target systems: saving them with their secret, testing the connection, Refresh into a
catalog, and deleting them (governance.services.systems, system_refresh)."""

import pytest

from governance.choices import CatalogRole, SystemKind
from governance.connectors import (
    _CLASSES,
    Connector,
    ConnectorError,
    DiscoveredResource,
    DiscoveredRole,
)
from governance.models import AuditEvent, Resource, SystemAccount, TargetSystem
from governance.security import secrets
from governance.services.errors import InvalidInput, InvalidState, NotAllowed
from governance.services.system_refresh import system_refresh
from governance.services.systems import (
    SystemUnreachable,
    system_check,
    system_delete,
    system_save,
)
from tests.factories import CatalogFactory, UserFactory, role_holder

TOKEN = "s3cret-bearer-token-value"


class FakeConnector(Connector):
    """Answers what the test sets: a check message or error, and the resources found."""

    answer = "SCIM service at https://app.test: 3 users."
    error: ConnectorError | None = None
    found: list[DiscoveredResource] = []
    secrets_seen: list[str] = []

    def check(self):
        self.secrets_seen.append(self.system.secret())
        if self.error is not None:
            raise self.error
        return self.answer

    def discover(self):
        if self.error is not None:
            raise self.error
        return list(self.found)


@pytest.fixture
def fake():
    saved = _CLASSES.get("scim")
    FakeConnector.error, FakeConnector.found, FakeConnector.secrets_seen = None, [], []
    _CLASSES["scim"] = FakeConnector
    yield FakeConnector
    if saved is None:
        _CLASSES.pop("scim", None)
    else:
        _CLASSES["scim"] = saved


@pytest.fixture
def admin(db):
    return UserFactory(email="global.admin@access.example", is_superuser=True)


def scim(admin, **overrides) -> TargetSystem:
    arguments = {"actor": admin, "display_name": "Contoso SCIM app", "kind": SystemKind.SCIM,
                 "base_url": "https://app.contoso.test/scim/v2/", "secret_value": TOKEN}
    return system_save(**(arguments | overrides))


def group(origin_id: str, name: str, *roles: tuple[str, str]) -> DiscoveredResource:
    return DiscoveredResource(display_name=name, origin_system="ScimGroup",
                              origin_id=origin_id, description=f"{name} in the app",
                              roles=[DiscoveredRole(label, role_id) for label, role_id in roles])


# Saving


def test_a_typed_secret_is_stored_encrypted_and_a_blank_one_keeps_it(admin):
    system = scim(admin)
    system.refresh_from_db()
    assert system.base_url == "https://app.contoso.test/scim/v2"
    assert TOKEN not in system.secret_encrypted and system.secret_env == ""
    assert secrets.decrypt(system.secret_encrypted) == TOKEN
    stored = system.secret_encrypted
    scim(admin, system_id=system.pk, display_name="Contoso app", secret_value="")
    system.refresh_from_db()
    assert (system.display_name, system.secret_encrypted) == ("Contoso app", stored)
    assert system.secret() == TOKEN
    events = AuditEvent.objects.filter(object_type="targetsystem").order_by("id")
    assert [event.action for event in events] == ["targetSystem.created", "targetSystem.changed"]
    assert TOKEN not in str([(event.before, event.after, event.details) for event in events])
    assert stored not in str([(event.before, event.after) for event in events])


def test_a_secret_from_the_environment_replaces_a_stored_one(admin, monkeypatch):
    system = scim(admin)
    monkeypatch.setenv("PORTAL_SECRET_CONTOSO_SCIM", "from-the-environment")
    scim(admin, system_id=system.pk, secret_value=None, secret_env="PORTAL_SECRET_CONTOSO_SCIM")
    system.refresh_from_db()
    assert (system.secret_env, system.secret_encrypted) == ("PORTAL_SECRET_CONTOSO_SCIM", "")
    assert system.secret() == "from-the-environment"
    event = AuditEvent.objects.filter(action="targetSystem.changed").get()
    assert event.after["secret"] == "environment variable PORTAL_SECRET_CONTOSO_SCIM"


def test_a_new_typed_secret_is_audited_without_its_value(admin):
    system = scim(admin)
    scim(admin, system_id=system.pk, secret_value="another-token")
    event = AuditEvent.objects.filter(action="targetSystem.changed").get()
    assert event.details == {"secretReplaced": True}
    assert "another-token" not in str((event.before, event.after, event.details))


def test_an_entra_tenant_needs_https_an_authority_and_a_client_id(admin, assert_refused,
                                                                  monkeypatch):
    monkeypatch.setenv("PORTAL_SECRET_GRAPH", "client-secret")
    entra = {"actor": admin, "display_name": "Contoso tenant", "kind": SystemKind.ENTRA,
             "base_url": "https://graph.microsoft.com/v1.0", "client_id": "app-id",
             "authority": "https://login.microsoftonline.com/tenant",
             "secret_env": "PORTAL_SECRET_GRAPH"}
    assert_refused(lambda: system_save(**(entra | {"authority": "http://login.test/t"})),
                   InvalidInput, "invalidUrl", "https://")
    assert_refused(lambda: system_save(**(entra | {"base_url": "http://graph.test"})),
                   InvalidInput, "invalidUrl", "https://")
    assert_refused(lambda: system_save(**(entra | {"client_id": " "})), InvalidInput,
                   "clientIdRequired", "client) ID")
    system = system_save(**entra)
    assert (system.kind, system.authority) == ("entra", "https://login.microsoftonline.com/tenant")


@pytest.mark.parametrize(("change", "code", "words"), [
    ({"base_url": "app.contoso.test/scim"}, "invalidUrl", "http:// or https://"),
    ({"base_url": "ftp://app.contoso.test"}, "invalidUrl", "“ftp://app.contoso.test”"),
    ({"base_url": ""}, "urlRequired", "SCIM base URL"),
    ({"kind": "ldap"}, "invalidKind", "SCIM 2.0 or Microsoft Entra"),
    ({"secret_value": None, "secret_env": "1TOKEN"}, "invalidEnvName", "letters, digits"),
    ({"secret_value": None, "secret_env": "TOKEN-X"}, "invalidEnvName", "underscores"),
    ({"secret_value": None, "secret_env": "PORTAL_SECRET_TOKEN_FILE"}, "invalidEnvName",
     "without _FILE"),
    ({"secret_env": "TOKEN"}, "twoSecrets", "not both"),
    ({"secret_value": None, "secret_env": "PORTAL_SECRET_NOT_SET_ANYWHERE"}, "secretUnavailable",
     "PORTAL_SECRET_NOT_SET_ANYWHERE_FILE) is not set"),
    ({"secret_value": None}, "secretRequired", "environment variable"),
    ({"authority": "https://login.test/t"}, "entraFieldsOnScim", "leave them blank"),
    ({"display_name": "  "}, "nameRequired", "name"),
])
def test_bad_values_are_refused_with_a_clear_message_and_nothing_saved(admin, assert_refused,
                                                                       change, code, words):
    assert_refused(lambda: scim(admin, **change), InvalidInput, code, words)
    assert not TargetSystem.objects.exists()


def test_hosts_of_a_private_network_are_accepted(admin):
    assert scim(admin, base_url="http://scim:8080/scim/v2").base_url == "http://scim:8080/scim/v2"


def test_two_systems_cannot_share_a_name(admin, assert_refused):
    scim(admin)
    assert_refused(lambda: scim(admin, display_name="contoso scim APP"), InvalidInput,
                   "nameTaken", "already named")


@pytest.mark.parametrize("role", [CatalogRole.OWNER, None])
def test_only_global_administrators_configure_systems(db, admin, assert_refused, role):
    person = role_holder(CatalogFactory(), role, email="owner@access.example") if role \
        else UserFactory(email="nobody@access.example")
    assert_refused(lambda: scim(person), NotAllowed, "notAllowed", "global administrators")
    system = scim(admin)
    assert_refused(lambda: scim(person, system_id=system.pk, display_name="Mine"), NotAllowed,
                   "notAllowed", "global administrators")
    assert_refused(lambda: system_delete(actor=person, system_id=system.pk), NotAllowed,
                   "notAllowed", "global administrators")
    assert TargetSystem.objects.get().display_name == "Contoso SCIM app"


def test_the_kind_cannot_change_while_resources_use_the_system(admin, fake, assert_refused):
    system = scim(admin)
    fake.found = [group("g-1", "Sales", ("Member", "member"))]
    system_refresh(actor=admin, system_id=system.pk, catalog_id=CatalogFactory().pk)
    assert_refused(lambda: scim(admin, system_id=system.pk, kind=SystemKind.ENTRA,
                                base_url="https://graph.test", client_id="c",
                                authority="https://login.test/t"),
                   InvalidState, "systemInUse", "kind cannot change")


# Test connection


def test_check_records_success_with_what_the_system_said(admin, fake):
    system = scim(admin)
    assert system_check(actor=admin, system_id=system.pk) == (True, fake.answer)
    assert fake.secrets_seen == [TOKEN]
    system.refresh_from_db()
    assert (system.last_check_ok, system.last_check_message) == (True, fake.answer)
    assert system.last_checked_at is not None
    event = AuditEvent.objects.get(action="targetSystem.checked")
    assert event.after == {"ok": True, "message": fake.answer}


def test_check_records_failure_in_the_systems_own_words(admin, fake):
    system = scim(admin)
    fake.error = ConnectorError("401 Unauthorized: the bearer token is not valid",
                                retryable=False)
    ok, message = system_check(actor=admin, system_id=system.pk)
    assert (ok, message) == (False, "401 Unauthorized: the bearer token is not valid")
    system.refresh_from_db()
    assert (system.last_check_ok, system.last_check_message) == (False, message)


def test_check_says_which_variable_is_missing(admin, fake, monkeypatch):
    monkeypatch.setenv("PORTAL_SECRET_MISSING_TOKEN", "set on this server when it was saved")
    system = scim(admin, secret_value=None, secret_env="PORTAL_SECRET_MISSING_TOKEN")
    monkeypatch.delenv("PORTAL_SECRET_MISSING_TOKEN")
    ok, message = system_check(actor=admin, system_id=system.pk)
    assert not ok and "PORTAL_SECRET_MISSING_TOKEN" in message


def test_saving_another_connection_forgets_the_last_check(admin, fake):
    system = scim(admin)
    system_check(actor=admin, system_id=system.pk)
    scim(admin, system_id=system.pk, base_url="https://other.contoso.test/scim")
    system.refresh_from_db()
    assert (system.last_checked_at, system.last_check_ok, system.last_check_message) == \
        (None, None, "")


def test_owners_check_only_systems_their_catalogs_use(admin, fake, assert_refused):
    catalog = CatalogFactory()
    owner = role_holder(catalog, CatalogRole.OWNER, email="owner@access.example")
    system = scim(admin)
    assert_refused(lambda: system_check(actor=owner, system_id=system.pk), NotAllowed,
                   "notAllowed", "test its connection")
    fake.found = [group("g-1", "Sales", ("Member", "member"))]
    system_refresh(actor=admin, system_id=system.pk, catalog_id=catalog.pk)
    assert system_check(actor=owner, system_id=system.pk)[0] is True


# Refresh


def test_refresh_creates_then_updates_without_duplicating(admin, fake):
    system = scim(admin)
    catalog = CatalogFactory(display_name="Sales apps")
    fake.found = [group("g-1", "Sales", ("Member", "member")),
                  group("g-2", "Support", ("Member", "member"), ("Owner", "owner"))]
    summary = system_refresh(actor=admin, system_id=system.pk, catalog_id=catalog.pk)
    assert (summary.created, summary.roles_added) == (["Sales", "Support"], 3)
    sales = Resource.objects.get(catalog=catalog, origin_id="g-1")
    assert (sales.connector, sales.system, sales.origin_system) == ("scim", system, "ScimGroup")
    assert sales.description == "Sales in the app"
    # The system renamed a group and a role, and added a role; Support vanished from it.
    fake.found = [group("g-1", "Sales EMEA", ("Members", "member"), ("Owner", "owner"))]
    summary = system_refresh(actor=admin, system_id=system.pk, catalog_id=catalog.pk)
    assert (summary.created, summary.updated) == ([], ["Sales EMEA"])
    assert (summary.roles_added, summary.roles_renamed) == (1, 1)
    assert Resource.objects.filter(catalog=catalog).count() == 2  # Support is kept
    sales.refresh_from_db()
    assert sales.display_name == "Sales EMEA"
    assert sorted(sales.roles.values_list("origin_id", "display_name")) == [
        ("member", "Members"), ("owner", "Owner")]
    summary = system_refresh(actor=admin, system_id=system.pk, catalog_id=catalog.pk)
    assert (summary.created, summary.updated, summary.unchanged) == ([], [], 1)
    system.refresh_from_db()
    assert system.last_refreshed_at is not None
    assert AuditEvent.objects.filter(action="targetSystem.refreshed").count() == 3
    assert AuditEvent.objects.filter(action="resource.added").count() == 2


def test_refresh_skips_what_it_cannot_offer_and_says_why(admin, fake):
    system = scim(admin)
    catalog = CatalogFactory()
    Resource.objects.create(catalog=catalog, origin_system="ScimGroup", origin_id="g-1",
                            display_name="Offered by hand", connector="local")
    fake.found = [group("g-1", "Taken"), group("", "No id"),
                  DiscoveredResource("Odd", "Mainframe", "x-1"), group("g-2", "Fine")]
    summary = system_refresh(actor=admin, system_id=system.pk, catalog_id=catalog.pk)
    assert summary.created == ["Fine"]
    assert [name for name, _ in summary.skipped] == ["Taken", "No id", "Odd"]
    assert "Skipped “Taken”: the catalog already offers it as “Offered by hand”, from " \
        "elsewhere." in str(summary)


def test_refresh_keeps_what_the_system_does_not_say(admin, fake):
    system = scim(admin)
    catalog = CatalogFactory()
    fake.found = [group("g-1", "Sales", ("Member", "member"), ("Member again", "member"))]
    system_refresh(actor=admin, system_id=system.pk, catalog_id=catalog.pk)
    sales = Resource.objects.get(catalog=catalog)
    assert list(sales.roles.values_list("display_name", flat=True)) == ["Member"]
    Resource.objects.filter(pk=sales.pk).update(description="Ask Dana before adding people")
    fake.found = [DiscoveredResource("Sales", "ScimGroup", "g-1",
                                     roles=[DiscoveredRole("Member", "member")])]
    summary = system_refresh(actor=admin, system_id=system.pk, catalog_id=catalog.pk)
    sales.refresh_from_db()
    assert (summary.unchanged, sales.description) == (1, "Ask Dana before adding people")


def test_refresh_needs_the_catalogs_owner_role(admin, fake, assert_refused):
    system = scim(admin)
    catalog = CatalogFactory(display_name="Sales apps")
    other_owner = role_holder(CatalogFactory(), CatalogRole.OWNER, email="o@access.example")
    manager = role_holder(catalog, CatalogRole.PACKAGE_MANAGER, email="pm@access.example")
    fake.found = [group("g-1", "Sales", ("Member", "member"))]
    for person in (other_owner, manager):
        assert_refused(lambda person=person: system_refresh(
            actor=person, system_id=system.pk, catalog_id=catalog.pk), NotAllowed,
            "notAllowed", "Sales apps")
    owner = role_holder(catalog, CatalogRole.OWNER, email="owner@access.example")
    # The first time, a global administrator connects the system to the catalog.
    assert_refused(lambda: system_refresh(actor=owner, system_id=system.pk,
                                          catalog_id=catalog.pk),
                   NotAllowed, "notAllowed", "global administrator")
    system_refresh(actor=admin, system_id=system.pk, catalog_id=catalog.pk)
    fake.found.append(group("g-2", "Support"))
    assert system_refresh(actor=owner, system_id=system.pk,
                          catalog_id=catalog.pk).created == ["Support"]


def test_refresh_of_a_system_that_does_not_answer_changes_nothing(admin, fake):
    system = scim(admin)
    catalog = CatalogFactory()
    fake.error = ConnectorError("503 Service Unavailable")
    events = AuditEvent.objects.count()
    with pytest.raises(SystemUnreachable) as caught:
        system_refresh(actor=admin, system_id=system.pk, catalog_id=catalog.pk)
    assert caught.value.message == "503 Service Unavailable"
    assert not Resource.objects.exists() and AuditEvent.objects.count() == events


# Deleting


def test_delete_is_refused_while_resources_use_the_system(admin, fake, assert_refused):
    system = scim(admin)
    fake.found = [group("g-1", "Sales", ("Member", "member"))]
    system_refresh(actor=admin, system_id=system.pk, catalog_id=CatalogFactory().pk)
    assert_refused(lambda: system_delete(actor=admin, system_id=system.pk), InvalidState,
                   "systemInUse", "a resource delivers")
    Resource.objects.filter(system=system).delete()
    system_delete(actor=admin, system_id=system.pk)
    assert not TargetSystem.objects.exists()
    assert AuditEvent.objects.filter(action="targetSystem.deleted").count() == 1


def test_delete_waits_for_account_changes_still_to_make(admin, assert_refused):
    system = scim(admin)
    SystemAccount.objects.create(system=system, user=UserFactory(), external_id="u-1",
                                 pending_action="block")
    assert_refused(lambda: system_delete(actor=admin, system_id=system.pk), InvalidState,
                   "systemInUse", "still wait")
