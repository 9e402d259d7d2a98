"""Secrets of connectors and custom extensions: read from the environment, or encrypted at rest.

A secret is either named (a variable whose name starts with `PORTAL_SECRET_`, read from that
variable or from the file that `NAME_FILE` points to, like every other setting) or stored
encrypted with Fernet. Nothing here ever returns a secret to a page: forms only say whether
one is set.

The keys are SECRETS_KEY's, newest first (MultiFernet): the first encrypts, every one
decrypts, so a new key can be added in front, everything re-encrypted under it
(`manage.py rotate_secrets`), and the old key retired. The same keys, under another purpose,
sign the custom extensions' callback addresses (`signing_keys`). SECRET_KEY is never one of
them: a copy of the database and a leaked SECRET_KEY together still open no secret.
"""

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings

from governance.security.env import env

# Only these variables may be named, so that nobody can have SECRET_KEY, DATABASE_URL or
# EMAIL_HOST_PASSWORD sent as a bearer token or used to sign webhooks.
ENV_PREFIX = "PORTAL_SECRET_"
MIN_KEY_LENGTH = 32
SECRETS_PURPOSE = "governance.security.secrets"
KEYS_HINT = ("Set SECRETS_KEY (or SECRETS_KEY_FILE) to at least 32 random characters, other "
             "than SECRET_KEY, e.g. python3 -c \"import secrets; print(secrets.token_urlsafe("
             "32))\". To rotate it, put the new key first (SECRETS_KEY=new,old), run "
             "manage.py rotate_secrets, then remove the old key.")


class SecretUnavailable(Exception):
    """The secret cannot be read; the message says what to fix."""


def _configured_keys() -> list[str]:
    keys = settings.SECRETS_KEY
    if isinstance(keys, str):
        keys = keys.split(",")
    return [key.strip() for key in keys if key and key.strip()]


def keys_problem() -> str | None:
    """What is wrong with SECRETS_KEY for a production site, or None."""
    keys = _configured_keys()
    if not keys:
        return "SECRETS_KEY is not set: the secrets stored in the database need their own key."
    if any(len(key) < MIN_KEY_LENGTH for key in keys):
        return f"Every key in SECRETS_KEY must have at least {MIN_KEY_LENGTH} characters."
    if settings.SECRET_KEY in keys:
        return "SECRETS_KEY must differ from SECRET_KEY, so that one leaked key is not both."
    return None


def _materials() -> list[str]:
    keys = _configured_keys()
    if keys:
        return keys
    if settings.DEBUG:
        # The demo runs on embedded defaults; production has SECRETS_KEY (portal.checks).
        return ["demo-only:" + settings.SECRET_KEY]
    raise SecretUnavailable("SECRETS_KEY is not set on this server, so stored secrets cannot "
                            "be used. " + KEYS_HINT)


def _derive(material: str, purpose: str) -> bytes:
    return hashlib.sha256(f"{purpose}:{material}".encode()).digest()


def _fernet() -> MultiFernet:
    return MultiFernet([Fernet(base64.urlsafe_b64encode(_derive(material, SECRETS_PURPOSE)))
                        for material in _materials()])


def signing_keys(purpose: str) -> list[str]:
    """Keys for django.core.signing, newest first, each of its own `purpose`: give the first
    as `key` and the others as `fallback_keys`."""
    return [_derive(material, purpose).hex() for material in _materials()]


def encrypt(plain: str) -> str:
    return _fernet().encrypt(plain.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise SecretUnavailable("The stored secret cannot be decrypted: none of the keys in "
                                "SECRETS_KEY is the one it was saved under. Enter it again, "
                                "or put the old key back after the new one.") from None


def reencrypt(token: str) -> str:
    """The same secret, encrypted under the newest key.

    :raises SecretUnavailable: no key of SECRETS_KEY decrypts it.
    """
    try:
        return _fernet().rotate(token.encode()).decode()
    except InvalidToken:
        raise SecretUnavailable("cannot be decrypted with any key of SECRETS_KEY") from None


def env_name_problem(name: str) -> str | None:
    """Why `name` may not hold a secret, or None. Says nothing about other variables."""
    if not name.startswith(ENV_PREFIX) or name == ENV_PREFIX:
        return (f"Only environment variables whose names start with {ENV_PREFIX} can hold "
                f"secrets (such as {ENV_PREFIX}SCIM_TOKEN): set the secret on the servers "
                "under such a name and give that name here.")
    return None


def from_environment(name: str) -> str:
    problem = env_name_problem(name)
    if problem:
        raise SecretUnavailable(problem)
    try:
        value = env(name)
    except OSError as exc:
        raise SecretUnavailable(f"The file named by {name}_FILE cannot be read: {exc}") from None
    if not value:
        raise SecretUnavailable(f"The environment variable {name} (or {name}_FILE) is not set "
                                "on this server.")
    return value


def resolve(*, env_name: str, encrypted: str) -> str:
    """The secret of a row holding `secret_env` / `secret_encrypted`; "" when it has none."""
    if env_name:
        return from_environment(env_name)
    if encrypted:
        return decrypt(encrypted)
    return ""
