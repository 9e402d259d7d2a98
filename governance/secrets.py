"""Secrets of connectors and custom extensions: read from the environment, or encrypted at rest.

A secret is either named (`ENV_NAME`, read from that variable or from the file that
`ENV_NAME_FILE` points to, like every other setting) or stored encrypted with Fernet under a
key derived from SECRETS_KEY (default: SECRET_KEY). Nothing here ever returns a secret to a
page: forms only say whether one is set.
"""

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings

from portal.env import env


class SecretUnavailable(Exception):
    """The secret cannot be read; the message says what to fix."""


def _fernet() -> Fernet:
    material = (getattr(settings, "SECRETS_KEY", "") or settings.SECRET_KEY).encode()
    digest = hashlib.sha256(b"governance.secrets:" + material).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def encrypt(plain: str) -> str:
    return _fernet().encrypt(plain.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise SecretUnavailable("The stored secret cannot be decrypted: SECRETS_KEY (or "
                                "SECRET_KEY) changed since it was saved. Enter it again.") from None


def from_environment(name: str) -> str:
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
