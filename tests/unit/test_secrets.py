"""Connector and extension secrets: from PORTAL_SECRET_* variables (or NAME_FILE), or
encrypted at rest under SECRETS_KEY's keys, which rotate."""

from datetime import timedelta

import pytest
from django.core import signing
from django.core.management import CommandError, call_command

from governance import clock
from governance.connectors import extension_calls
from governance.models import AuditEvent, CustomExtension, ExtensionCallout, TargetSystem
from governance.security import secrets
from governance.services.errors import InvalidInput, NotAllowed
from governance.services.secret_fields import secret_apply

OLD_KEY = "the-old-secrets-key-" + "o" * 20
NEW_KEY = "the-new-secrets-key-" + "n" * 20


def test_a_stored_secret_is_encrypted_and_reads_back(settings):
    token = secrets.encrypt("s3cret-token")
    assert "s3cret" not in token
    assert secrets.resolve(env_name="", encrypted=token) == "s3cret-token"


def test_a_new_key_makes_the_stored_secret_unreadable_with_a_reason(settings):
    token = secrets.encrypt("s3cret-token")
    settings.SECRETS_KEY = ["another key " + "x" * 30]
    with pytest.raises(secrets.SecretUnavailable, match="Enter it again"):
        secrets.decrypt(token)


def test_stored_secrets_do_not_depend_on_secret_key(settings):
    token = secrets.encrypt("s3cret-token")
    settings.SECRET_KEY = "a different django key " + "y" * 30
    assert secrets.decrypt(token) == "s3cret-token"


def test_without_secrets_key_a_production_site_refuses_to_store_secrets(settings):
    settings.SECRETS_KEY = []
    with pytest.raises(secrets.SecretUnavailable, match="SECRETS_KEY is not set"):
        secrets.encrypt("s3cret-token")
    assert secrets.keys_problem().startswith("SECRETS_KEY is not set")


@pytest.mark.parametrize(("keys", "problem"), [
    ([], "not set"),
    (["short"], "at least 32 characters"),
    (["django-secret-key-used-twice-" + "z" * 20], "differ from SECRET_KEY"),
])
def test_keys_problem_names_what_to_fix(settings, keys, problem):
    settings.SECRET_KEY = "django-secret-key-used-twice-" + "z" * 20
    settings.SECRETS_KEY = keys
    assert problem in secrets.keys_problem()


def test_a_new_key_in_front_still_reads_the_old_secrets(settings):
    settings.SECRETS_KEY = [OLD_KEY]
    token = secrets.encrypt("s3cret-token")
    settings.SECRETS_KEY = [NEW_KEY, OLD_KEY]
    assert secrets.decrypt(token) == "s3cret-token"
    rotated = secrets.reencrypt(token)
    settings.SECRETS_KEY = [NEW_KEY]
    assert secrets.decrypt(rotated) == "s3cret-token"
    with pytest.raises(secrets.SecretUnavailable):
        secrets.decrypt(token)


@pytest.mark.django_db
def test_rotate_secrets_reencrypts_every_stored_secret_under_the_newest_key(settings, world):
    settings.SECRETS_KEY = [OLD_KEY]
    system = TargetSystem.objects.create(display_name="App", kind="scim",
                                         base_url="https://scim.test",
                                         secret_encrypted=secrets.encrypt("scim-token"))
    extension = CustomExtension.objects.create(
        catalog=world.catalog, display_name="Hook", endpoint_url="https://hooks.test/a",
        secret_encrypted=secrets.encrypt("hook-secret-of-16"))
    settings.SECRETS_KEY = [NEW_KEY, OLD_KEY]
    call_command("rotate_secrets")
    settings.SECRETS_KEY = [NEW_KEY]  # the old key retired
    system.refresh_from_db()
    extension.refresh_from_db()
    assert (system.secret(), extension.secret()) == ("scim-token", "hook-secret-of-16")
    assert AuditEvent.objects.filter(action="secret.rotated").count() == 2


@pytest.mark.django_db
def test_rotate_secrets_lists_what_no_key_opens_and_keeps_it(settings):
    settings.SECRETS_KEY = [OLD_KEY]
    lost = secrets.encrypt("lost-token")
    system = TargetSystem.objects.create(display_name="Lost app", kind="scim",
                                         base_url="https://scim.test", secret_encrypted=lost)
    settings.SECRETS_KEY = [NEW_KEY]
    with pytest.raises(CommandError, match="Lost app"):
        call_command("rotate_secrets")
    system.refresh_from_db()
    assert system.secret_encrypted == lost


def test_a_named_secret_comes_from_the_variable_or_its_file(monkeypatch, tmp_path):
    monkeypatch.setenv("PORTAL_SECRET_SCIM_TOKEN", "from-variable")
    assert secrets.resolve(env_name="PORTAL_SECRET_SCIM_TOKEN", encrypted="") == "from-variable"
    secret_file = tmp_path / "token"
    secret_file.write_text("from-file\n")
    monkeypatch.setenv("PORTAL_SECRET_SCIM_TOKEN_FILE", str(secret_file))
    assert secrets.resolve(env_name="PORTAL_SECRET_SCIM_TOKEN", encrypted="") == "from-file"


def test_a_missing_variable_or_file_says_what_to_set(monkeypatch, tmp_path):
    name = "PORTAL_SECRET_NO_SUCH_TOKEN"
    monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv(f"{name}_FILE", raising=False)
    with pytest.raises(secrets.SecretUnavailable, match=f"{name} .or {name}_FILE. is not set"):
        secrets.from_environment(name)
    monkeypatch.setenv(f"{name}_FILE", str(tmp_path / "missing"))
    with pytest.raises(secrets.SecretUnavailable, match="cannot be read"):
        secrets.from_environment(name)


@pytest.mark.parametrize("name", ["SECRET_KEY", "DATABASE_URL", "EMAIL_HOST_PASSWORD",
                                  "SECRETS_KEY", "PORTAL_SECRET_", "HOME"])
def test_only_portal_secret_variables_can_be_named(monkeypatch, name):
    monkeypatch.setenv(name, "set-on-this-server")
    with pytest.raises(secrets.SecretUnavailable, match="start with PORTAL_SECRET_") as refused:
        secrets.from_environment(name)
    holder = TargetSystem(display_name="App", kind="scim", base_url="https://scim.test")
    with pytest.raises(InvalidInput) as refused_at_save:
        secret_apply(holder, secret_env=name, secret_value=None, value_field="secret",
                     what="the token")
    assert refused_at_save.value.code == "envNameNotAllowed"
    # The refusal is the same whether the variable exists or not: it reveals nothing.
    monkeypatch.delenv(name)
    with pytest.raises(secrets.SecretUnavailable) as refused_unset:
        secrets.from_environment(name)
    assert str(refused_unset.value) == str(refused.value)
    assert holder.secret_env == "" and holder.secret_encrypted == ""


def test_a_row_without_a_secret_has_none():
    system = TargetSystem(display_name="Open app", kind="scim", base_url="http://x.test")
    assert not system.has_secret
    assert system.secret() == ""
    system.secret_encrypted = secrets.encrypt("t")
    assert system.has_secret and system.secret() == "t"


def test_a_callback_address_cannot_be_forged_with_secret_key_alone(settings):
    due = int((clock.now() + timedelta(hours=1)).timestamp())
    path = extension_calls.callback_path(ExtensionCallout(pk=41, callback_due_at=clock.now()
                                                          + timedelta(hours=1)))
    assert extension_calls.callout_id_of_token(path.strip("/").rsplit("/", 1)[-1]) == 41
    # Someone holding SECRET_KEY (it signs the approval links) signs a callout of their own.
    forged = signing.Signer(salt=extension_calls.SALT).sign_object({"c": 42, "e": due},
                                                                   compress=True)
    with pytest.raises(NotAllowed, match="not valid"):
        extension_calls.callout_id_of_token(forged)


def test_callback_addresses_survive_a_key_rotation(settings):
    settings.SECRETS_KEY = [OLD_KEY]
    path = extension_calls.callback_path(ExtensionCallout(pk=7, callback_due_at=clock.now()
                                                          + timedelta(hours=1)))
    settings.SECRETS_KEY = [NEW_KEY, OLD_KEY]
    assert extension_calls.callout_id_of_token(path.strip("/").rsplit("/", 1)[-1]) == 7
