"""Connector and extension secrets: from the environment (or NAME_FILE), or encrypted at rest."""

import pytest

from governance import secrets
from governance.models import TargetSystem


def test_a_stored_secret_is_encrypted_and_reads_back(settings):
    token = secrets.encrypt("s3cret-token")
    assert "s3cret" not in token
    assert secrets.resolve(env_name="", encrypted=token) == "s3cret-token"


def test_a_new_key_makes_the_stored_secret_unreadable_with_a_reason(settings):
    token = secrets.encrypt("s3cret-token")
    settings.SECRETS_KEY = "another key"
    with pytest.raises(secrets.SecretUnavailable, match="Enter it again"):
        secrets.decrypt(token)


def test_a_named_secret_comes_from_the_variable_or_its_file(monkeypatch, tmp_path):
    monkeypatch.setenv("SCIM_TOKEN", "from-variable")
    assert secrets.resolve(env_name="SCIM_TOKEN", encrypted="") == "from-variable"
    secret_file = tmp_path / "token"
    secret_file.write_text("from-file\n")
    monkeypatch.setenv("SCIM_TOKEN_FILE", str(secret_file))
    assert secrets.resolve(env_name="SCIM_TOKEN", encrypted="") == "from-file"


def test_a_missing_variable_or_file_says_what_to_set(monkeypatch, tmp_path):
    monkeypatch.delenv("NO_SUCH_TOKEN", raising=False)
    monkeypatch.delenv("NO_SUCH_TOKEN_FILE", raising=False)
    with pytest.raises(secrets.SecretUnavailable, match="NO_SUCH_TOKEN .or NO_SUCH_TOKEN_FILE. "
                                                         "is not set"):
        secrets.from_environment("NO_SUCH_TOKEN")
    monkeypatch.setenv("NO_SUCH_TOKEN_FILE", str(tmp_path / "missing"))
    with pytest.raises(secrets.SecretUnavailable, match="cannot be read"):
        secrets.from_environment("NO_SUCH_TOKEN")


def test_a_row_without_a_secret_has_none():
    system = TargetSystem(display_name="Open app", kind="scim", base_url="http://x.test")
    assert not system.has_secret
    assert system.secret() == ""
    system.secret_encrypted = secrets.encrypt("t")
    assert system.has_secret and system.secret() == "t"
