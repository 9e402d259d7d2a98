"""Setting the secret of a target system or a custom extension (a SecretHolder), one way.

A secret is named (an environment variable, or NAME_FILE, on the servers) or typed once and
stored encrypted. Blank means "keep the stored one"; the audit log only says where the
secret comes from.
"""

import re
from dataclasses import dataclass, field

from django.apps import apps
from django.db import transaction

from governance.models import User
from governance.models.system import SecretHolder
from governance.security import secrets
from governance.services.audit import audit_record
from governance.services.errors import InvalidInput

ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
ENV_NAME_MAX = 100


def secret_source(holder: SecretHolder) -> str:
    """Where the secret comes from, in words: never the secret itself."""
    if holder.secret_env:
        return f"environment variable {holder.secret_env}"
    return "stored encrypted" if holder.secret_encrypted else "none"


def _clean_env_name(value: str) -> str:
    name = (value or "").strip()
    if not name:
        return ""
    if not ENV_NAME.fullmatch(name) or len(name) > ENV_NAME_MAX:
        raise InvalidInput("The environment variable's name can have only letters, digits "
                           "and underscores, and cannot start with a digit (such as "
                           f"{secrets.ENV_PREFIX}SCIM_TOKEN).", field="secret_env",
                           code="invalidEnvName")
    problem = secrets.env_name_problem(name)
    if problem:
        raise InvalidInput(problem, field="secret_env", code="envNameNotAllowed")
    if name.upper().endswith("_FILE"):
        raise InvalidInput(f"Give the variable's name without _FILE ({name[:-5]}): the portal "
                           "reads that variable, or the file its _FILE variable names.",
                           field="secret_env", code="invalidEnvName")
    try:
        secrets.from_environment(name)
    except secrets.SecretUnavailable as problem:
        raise InvalidInput(str(problem), field="secret_env", code="secretUnavailable") from None
    return name


def secret_apply(holder: SecretHolder, *, secret_env: str, secret_value: str | None,
                 value_field: str, what: str, min_length: int = 1) -> bool:
    """Set `holder`'s secret from a variable's name or a typed value; returns whether it is
    replaced. A blank name and value keep a stored secret (the form never shows it back).

    :param value_field: the form field of the typed secret, for the refusals.
    :param what: what the secret is, for "Give the secret (…)".
    :raises InvalidInput: both given, a bad or unset variable, too short, or no secret.
    """
    typed = (secret_value or "").strip()
    if (secret_env or "").strip() and typed:
        raise InvalidInput("Either name an environment variable or type the secret, not both: "
                           "clear one of them.", field=value_field, code="twoSecrets")
    env_name = _clean_env_name(secret_env)
    if env_name:
        replaced = (holder.secret_env, holder.secret_encrypted) != (env_name, "")
        holder.secret_env, holder.secret_encrypted = env_name, ""
        return replaced
    if typed:
        if len(typed) < min_length:
            raise InvalidInput(f"The secret must have at least {min_length} characters.",
                               field=value_field, code="secretTooShort")
        holder.secret_env, holder.secret_encrypted = "", secrets.encrypt(typed)
        return True
    holder.secret_env = ""  # the variable's name was cleared: a stored secret stays
    if not holder.has_secret:
        raise InvalidInput(f"Give the secret ({what}): name the environment variable that "
                           "holds it, or type it.", field=value_field, code="secretRequired")
    return False


@dataclass
class Rotation:
    rotated: int = 0
    unreadable: list[str] = field(default_factory=list)  # "custom extension “Hook” (#3)"


def secrets_rotate(*, actor: User | None = None) -> Rotation:
    """Re-encrypt every stored secret under the newest key of SECRETS_KEY, so that the older
    keys can be removed. A secret that no key opens is left as it is and listed: it has to
    be entered again (or the key that opens it put back)."""
    result = Rotation()
    for model in apps.get_models():
        if not issubclass(model, SecretHolder):
            continue
        with transaction.atomic():
            for holder in model.objects.select_for_update().exclude(secret_encrypted="") \
                    .order_by("pk"):
                try:
                    holder.secret_encrypted = secrets.reencrypt(holder.secret_encrypted)
                except secrets.SecretUnavailable:
                    result.unreadable.append(f"{model._meta.verbose_name} “{holder}” "
                                             f"(#{holder.pk})")
                    continue
                holder.save(update_fields=["secret_encrypted"])
                audit_record(actor=actor, action="secret.rotated", obj=holder)
                result.rotated += 1
    return result
