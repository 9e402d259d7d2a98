"""Custom extensions of a catalog, and the stages of a policy that call them.

Catalog owners (Capability.CATALOG) add, change and delete their catalogs' extensions; owners
and package managers (Capability.PACKAGES) choose which extension a policy calls at which
stage. The secret that signs the calls is named by an environment variable, or typed once and
stored encrypted (governance.security.secrets); nothing here returns it, and the audit log only says
where it comes from. Launch and wait is only for the stages "Request is created" and
"Request is approved", with a timeout of 5 minutes to 14 days (as in Entra). The address must
be public and https://, unless a global administrator allow-lists its host in the tenant
settings (governance.connectors.outbound).
"""

from collections.abc import Iterable
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction

from governance.choices import (
    EXTENSION_WAIT_STAGES,
    CustomExtensionBehavior,
    CustomExtensionStage,
)
from governance.connectors.outbound import AllowList, OutboundRefused, Unresolvable, check_url
from governance.models import (
    AssignmentPolicy,
    CustomExtension,
    PolicyExtensionStage,
    TenantSettings,
    User,
)
from governance.selectors.permissions import Capability
from governance.services.audit import audit_record, audit_saved
from governance.services.errors import InvalidInput, InvalidState
from governance.services.internal.config_checks import (
    clean_name,
    clean_text,
    max_length,
    name_taken,
    require,
)
from governance.services.internal.guards import catalog_locked, locked_under_parent
from governance.services.packages import package_lock
from governance.services.secret_fields import secret_apply, secret_source

Stage = CustomExtensionStage
WAIT = CustomExtensionBehavior.LAUNCH_AND_WAIT
NAME_MAX = max_length(CustomExtension, "display_name")
URL_MAX = max_length(CustomExtension, "endpoint_url")
MIN_TIMEOUT, MAX_TIMEOUT = timedelta(minutes=5), timedelta(days=14)
MIN_SECRET_LENGTH = 16
WAIT_STAGE_NAMES = " and ".join(f"“{Stage(stage).label}”" for stage in EXTENSION_WAIT_STAGES)


def _lock_extension(extension_id: int) -> CustomExtension:
    return locked_under_parent(CustomExtension, extension_id, "catalog", catalog_locked,
                               "This custom extension does not exist.",
                               code="extensionNotFound")


def _snapshot(extension: CustomExtension) -> dict:
    timeout = extension.callback_timeout
    return {"displayName": extension.display_name, "description": extension.description,
            "endpointUrl": extension.endpoint_url, "behavior": extension.behavior,
            "callbackTimeoutMinutes": int(timeout.total_seconds() // 60) if timeout else None,
            "secret": secret_source(extension)}


def _check_url(endpoint_url: str) -> str:
    url = (endpoint_url or "").strip()
    problem = "Give the address the extension's calls are sent to, e.g. https://hooks.example/access."
    if not url or len(url) > URL_MAX:
        raise InvalidInput(problem, field="endpoint_url", code="invalidEndpoint")
    try:
        URLValidator(schemes=["https", "http"])(url)
    except ValidationError:
        raise InvalidInput(problem, field="endpoint_url", code="invalidEndpoint") from None
    # Checked again at each call (governance.connectors.webhook): DNS may change meanwhile.
    try:
        check_url(url, AllowList.of(TenantSettings.current().outbound_allow_list))
    except OutboundRefused as refused:
        raise InvalidInput(str(refused), field="endpoint_url", code=refused.code) from None
    except Unresolvable as unknown:
        raise InvalidInput(str(unknown), field="endpoint_url", code="hostUnknown") from None
    return url


def _check_timeout(behavior: str, timeout: timedelta | None) -> timedelta | None:
    if behavior not in CustomExtensionBehavior.values:
        raise InvalidInput("Choose whether the request waits for the extension's answer.",
                           field="behavior", code="invalidBehavior")
    if behavior != WAIT:
        return None
    if timeout is None or not MIN_TIMEOUT <= timeout <= MAX_TIMEOUT:
        raise InvalidInput("Say how long a request waits for the extension's answer: 5 minutes "
                           "to 14 days.", field="callback_timeout", code="invalidTimeout")
    return timeout


def _refuse_waiting_at_other_stages(extension: CustomExtension, name: str) -> None:
    used = extension.policy_stages.exclude(stage__in=EXTENSION_WAIT_STAGES) \
        .select_related("policy").order_by("policy__display_name").first()
    if used is not None:
        raise InvalidInput(
            f"“{name}” runs at “{used.get_stage_display()}” of the policy “{used.policy}”, "
            f"which cannot wait for a callback: only {WAIT_STAGE_NAMES} can.",
            field="behavior", code="cannotWait")


def extension_save(*, actor: User, extension_id: int | None = None,
                   catalog_id: int | None = None, display_name: str, description: str = "",
                   endpoint_url: str, behavior: str = CustomExtensionBehavior.LAUNCH_AND_CONTINUE,
                   callback_timeout: timedelta | None = None, secret_env: str = "",
                   secret_value: str = "") -> CustomExtension:
    """Add a custom extension to a catalog (`catalog_id`), or change one (`extension_id`; its
    catalog stays). A blank secret keeps the one it has.

    :param secret_env: the name of the environment variable holding the secret, or
    :param secret_value: the secret itself, stored encrypted.
    :raises NotAllowed: the actor does not own the catalog.
    :raises InvalidInput: naming the field (display_name, endpoint_url, behavior,
        callback_timeout, secret_env, secret_value).
    """
    with transaction.atomic():
        if extension_id is not None:
            extension = _lock_extension(extension_id)
            catalog, before = extension.catalog, _snapshot(extension)
        else:
            catalog = catalog_locked(catalog_id)
            extension, before = CustomExtension(catalog=catalog), None
        require(actor, catalog, Capability.CATALOG, "manage its custom extensions")
        name = clean_name(display_name, field="display_name", what="custom extension",
                          max_length=NAME_MAX)
        if name_taken(catalog.custom_extensions, name, extension.pk):
            raise InvalidInput(f"The catalog “{catalog}” already has a custom extension named "
                               f"“{name}”.", field="display_name", code="nameTaken")
        url = _check_url(endpoint_url)
        timeout = _check_timeout(behavior, callback_timeout)
        if extension.pk and behavior == WAIT:
            _refuse_waiting_at_other_stages(extension, name)
        replaced = secret_apply(extension, secret_env=secret_env, secret_value=secret_value,
                                value_field="secret_value", what="it signs the calls",
                                min_length=MIN_SECRET_LENGTH)
        extension.display_name, extension.description = name, clean_text(description)
        extension.endpoint_url, extension.behavior = url, behavior
        extension.callback_timeout = timeout
        extension.save()
        after = _snapshot(extension)
        if replaced and before is not None:
            after["secretReplaced"] = True
        audit_saved(actor=actor, obj=extension, before=before, after=after,
                    created="extension.created", changed="extension.changed")
    return extension


def extension_delete(*, actor: User, extension_id: int) -> None:
    """Delete an extension that no policy calls and that was never called.

    :raises InvalidState: a policy calls it, or its calls are in requests' history.
    """
    with transaction.atomic():
        extension = _lock_extension(extension_id)
        require(actor, extension.catalog, Capability.CATALOG, "manage its custom extensions")
        policies = sorted({str(row.policy) for row in
                           extension.policy_stages.select_related("policy")})
        if policies:
            raise InvalidState(f"The policies {', '.join(f'“{p}”' for p in policies)} call it; "
                               "take it out of them first.", code="extensionInUse")
        calls = extension.callouts.count()
        if calls:
            raise InvalidState(f"It was called {calls} time{'s' if calls != 1 else ''}, and "
                               "requests' history keeps those calls. Take it out of the "
                               "policies instead.", code="extensionHasCallouts")
        audit_record(actor=actor, action="extension.deleted", obj=extension,
                     before=_snapshot(extension), details={"catalog": extension.catalog_id})
        extension.delete()


def _lock_policy(policy_id: int) -> AssignmentPolicy:
    return locked_under_parent(AssignmentPolicy, policy_id, "access_package", package_lock,
                               "This policy does not exist.", code="policyNotFound")


def policy_extension_stages_set(*, actor: User, policy_id: int,
                                stages: Iterable[tuple[str, int]]) -> list[PolicyExtensionStage]:
    """Make (stage, extension id) the policy's whole list of extension stages: one
    extension per stage, of the policy's own catalog; one that waits only at a stage that can.

    :raises NotAllowed: the actor may not change the policies of the catalog.
    :raises InvalidInput: naming the field (stage or extension).
    """
    with transaction.atomic():
        policy = _lock_policy(policy_id)
        catalog = policy.access_package.catalog
        require(actor, catalog, Capability.PACKAGES, "change policies")
        wanted: dict[str, CustomExtension] = {}
        for stage, extension_id in stages:
            if stage not in Stage.values:
                raise InvalidInput("Choose the stage that calls the extension.", field="stage",
                                   code="invalidStage")
            label = Stage(stage).label
            if stage in wanted:
                raise InvalidInput(f"“{label}” is chosen twice: a stage calls one extension.",
                                   field="stage", code="duplicateStage")
            extension = catalog.custom_extensions.filter(pk=extension_id).first() \
                if extension_id else None
            if extension is None:
                raise InvalidInput(f"Choose a custom extension of the catalog “{catalog}” for "
                                   f"“{label}”.", field="extension", code="extensionNotFound")
            if extension.behavior == WAIT and stage not in EXTENSION_WAIT_STAGES:
                raise InvalidInput(
                    f"“{extension}” waits for a callback, which only {WAIT_STAGE_NAMES} can "
                    f"do. Choose one that launches and continues for “{label}”.",
                    field="extension", code="cannotWait")
            wanted[stage] = extension
        current = {row.stage: row for row in policy.extension_stages.select_for_update()}
        before = {stage: row.extension_id for stage, row in current.items()}
        after = {stage: extension.pk for stage, extension in wanted.items()}
        if before != after:
            policy.extension_stages.exclude(stage__in=list(wanted)).delete()
            for stage, extension in wanted.items():
                row = current.get(stage) or PolicyExtensionStage(policy=policy, stage=stage)
                if row.pk is None or row.extension_id != extension.pk:
                    row.extension = extension
                    row.save()
            audit_record(actor=actor, action="policy.extensionStagesChanged", obj=policy,
                         before={"extensionStages": before},
                         after={"extensionStages": after})
        return list(policy.extension_stages.select_related("extension"))
