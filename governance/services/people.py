"""People in the directory, whatever the door (SCIM, the admin, the API, a CSV import): the
joiner (`person_create`), the mover (`person_update`) and the leaver (`person_deactivate`,
or `person_update` with active false; `person_delete` for SCIM's DELETE). What leaving does
to a person's access is governance.services.internal.departure.

Values are keyed by the names of `PERSON_FIELDS`. A provisioning client (`source`) sets the
people it provisions; the fields it has set are recorded on the person and are then its own:
an administrator may change the rest, and may always deactivate (a leaver cannot wait for the
identity provider's next cycle).
"""

from collections.abc import Mapping

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction

from governance.choices import AccountState, GlobalRole, UserType
from governance.models import ProvisioningClient, User
from governance.selectors.directory import organization_of
from governance.selectors.permissions import has_global_role, is_global_admin
from governance.services.audit import audit_record
from governance.services.automatic import RULE_FIELDS, people_rules_evaluate_after_commit
from governance.services.errors import (
    Duplicate,
    InvalidInput,
    InvalidState,
    NotAllowed,
    NotFound,
)
from governance.services.internal.config_checks import max_length
from governance.services.internal.departure import (
    person_deactivate_locked,
    person_delete_locked,
    person_reactivate_locked,
    reroute_manager_stages,
)

NAME_FIELDS = ("email", "username", "display_name", "first_name", "last_name", "external_id")
# Every field the services set, by its service name (the model field, or manager_id).
# username is the identity provider's sign-in name (SCIM userName); it is the email address
# unless a provisioning client says otherwise. scim_extra: what SCIM sent that we only keep.
PERSON_FIELDS = (*NAME_FIELDS, "user_type", *User.PROFILE_FIELDS, "manager_id", "sponsor_ids",
                 "active", "scim_extra")
USER_TYPES = (UserType.MEMBER, UserType.GUEST)
MANAGER_DEPTH_MAX = 50  # a chain of managers longer than this is taken for a cycle


def may_administer_people(actor: User | None) -> bool:
    """Global administrators and user administrators set people's attributes (other than
    the ones a provisioning client manages), deactivate and re-activate them."""
    return actor is not None and has_global_role(actor, GlobalRole.USER_ADMIN)


def _source_of(actor: User | None) -> ProvisioningClient | None:
    return getattr(actor, "provisioning_client", None) if actor is not None else None


def _require(actor: User | None, person: User | None) -> ProvisioningClient | None:
    """The provisioning client acting, if it is one; refuses who may not change `person`."""
    source = _source_of(actor)
    if source is not None:
        if not source.is_active:
            raise NotAllowed("This provisioning client is revoked.", code="clientRevoked")
        if person is not None and person.provisioned_by_id not in (None, source.pk):
            raise NotAllowed(f"{person.email} is provisioned by another client; this client "
                             "may not change them.", code="provisionedByAnother")
        return source
    if not may_administer_people(actor):
        raise NotAllowed("Only global administrators and user administrators change people.")
    if person is not None and is_global_admin(person) and not is_global_admin(actor):
        raise NotAllowed(f"{person.email} is a global administrator; only another global "
                         "administrator changes them.", code="globalAdministrator")
    return None


def _label(field: str) -> str:
    """"Job title" for job_title: what a person reads, whichever door named the field."""
    return str(User._meta.get_field(field).verbose_name).capitalize()


def _clean_text(field: str, value) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidInput(f"{_label(field)} must be text.", field=field, code="invalidValue")
    value = value.strip()
    limit = max_length(User, field)
    if len(value) > limit:
        raise InvalidInput(f"{_label(field)} is longer than {limit} characters; shorten it.",
                           field=field, code="tooLong")
    return value


def _clean_email(value) -> str:
    email = _clean_text("email", value).lower()
    try:
        validate_email(email)
    except ValidationError:
        raise InvalidInput(f"'{email}' is not an email address; give the person's address, "
                           "such as ada@example.com.", field="email",
                           code="invalidValue") from None
    return email


def _check_unique(person: User | None, email: str | None, username: str | None,
                  external_id: str | None, source: ProvisioningClient | None) -> None:
    others = User.objects.exclude(pk=person.pk) if person else User.objects.all()
    if email is not None and others.filter(email__iexact=email).exists():
        raise Duplicate(f"Somebody has the address {email} already.", code="uniqueness")
    if username and others.filter(username__iexact=username).exists():
        raise Duplicate(f"Somebody has the user name {username} already.", code="uniqueness")
    if external_id and others.filter(provisioned_by=source, external_id=external_id).exists():
        raise Duplicate(f"Somebody has the external id {external_id} already.",
                        code="uniqueness")


def _manager(person: User | None, manager_id) -> User | None:
    """The manager to set, checked: exists, not deleted, not the person, no cycle. A
    deactivated manager is accepted (identity providers send people in any order); their
    stages go to the fallback approvers."""
    if manager_id in (None, ""):
        return None
    manager = User.objects.filter(pk=manager_id).exclude(user_type=UserType.SERVICE) \
        .exclude(account_state=AccountState.DELETED).first()
    if manager is None:
        raise InvalidInput(f"There is no person {manager_id} to be the manager; give the id "
                           "of somebody in the directory.", field="manager_id",
                           code="managerNotFound")
    if person is not None:
        step, depth = manager, 0
        while step is not None and depth < MANAGER_DEPTH_MAX:
            if step.pk == person.pk:
                raise InvalidInput(f"{manager} cannot be the manager of {person}: that would "
                                   "make a cycle of managers.", field="manager_id",
                                   code="managerCycle")
            step, depth = step.manager, depth + 1
    return manager


def _sponsors(person: User | None, sponsor_ids) -> list[User]:
    wanted = list(dict.fromkeys(sponsor_ids or []))
    sponsors = list(User.objects.filter(pk__in=wanted).exclude(user_type=UserType.SERVICE)
                    .exclude(account_state=AccountState.DELETED))
    missing = set(map(str, wanted)) - {str(sponsor.pk) for sponsor in sponsors}
    if missing:
        raise InvalidInput(f"There is no person {sorted(missing)[0]} to be a sponsor.",
                           field="sponsor_ids", code="sponsorNotFound")
    if person is not None and any(sponsor.pk == person.pk for sponsor in sponsors):
        raise InvalidInput("Nobody can sponsor themselves.", field="sponsor_ids",
                           code="invalidValue")
    return sponsors


def _cleaned(person: User | None, values: Mapping, source) -> dict:
    """`values` checked and normalised; refuses unknown fields and bad values."""
    unknown = sorted(set(values) - set(PERSON_FIELDS))
    if unknown:
        raise InvalidInput(f"{unknown[0]} is not an attribute of a person.", field=unknown[0],
                           code="unknownField")
    cleaned = {}
    for field, value in values.items():
        if field == "email":
            cleaned[field] = _clean_email(value)
        elif field in NAME_FIELDS or field in User.PROFILE_FIELDS:
            cleaned[field] = _clean_text(field, value)
        elif field == "user_type":
            if value not in USER_TYPES:
                raise InvalidInput(f"userType is 'member' or 'guest', not '{value}'.",
                                   field=field, code="invalidValue")
            cleaned[field] = value
        elif field == "active":
            if not isinstance(value, bool):
                raise InvalidInput("active is true or false.", field=field,
                                   code="invalidValue")
            cleaned[field] = value
        elif field == "manager_id":
            cleaned["manager"] = _manager(person, value)
        elif field == "sponsor_ids":
            cleaned[field] = _sponsors(person, value)
        elif field == "scim_extra":
            cleaned[field] = value if isinstance(value, dict) and value else None
    _check_unique(person, cleaned.get("email"), cleaned.get("username"),
                  cleaned.get("external_id"), source)
    return cleaned


def _snapshot(person: User, fields) -> dict:
    shot = {}
    for field in fields:
        if field == "scim_extra":
            continue  # kept for SCIM, not the audit log's business
        if field == "manager":
            shot["manager_id"] = person.manager_id
        elif field == "sponsor_ids":
            shot[field] = sorted(person.sponsors.values_list("pk", flat=True))
        elif field == "active":
            shot[field] = person.is_active
        else:
            shot[field] = getattr(person, field)
    return shot


def _record_source(person: User, source: ProvisioningClient | None, fields) -> None:
    if source is None:
        return
    person.provisioned_by = source
    person.provisioned_fields = sorted(set(person.provisioned_fields or [])
                                       | {"manager_id" if f == "manager" else f
                                          for f in fields})


def _refuse_managed(person: User, fields, source) -> None:
    """An administrator may not change what a provisioning client keeps."""
    if source is not None or person.provisioned_by_id is None:
        return
    kept = set(person.provisioned_fields or [])
    taken = sorted(("manager_id" if f == "manager" else f) for f in fields
                   if ("manager_id" if f == "manager" else f) in kept and f != "active")
    if taken:
        raise NotAllowed(f"{taken[0]} of {person.email} is managed by "
                         f"{person.provisioned_by.display_name} provisioning; change it there.",
                         code="managedByProvisioning")


@transaction.atomic
def person_create(*, actor: User | None, values: Mapping) -> User:
    """The joiner: a person in the directory, who signs in by single sign-on (no password).

    `values` needs an email; user_type is member unless it says guest. Refuses, having written
    nothing, a bad or taken value, a manager who does not exist, or an actor who may not.
    """
    source = _require(actor, None)
    cleaned = _cleaned(None, values, source)
    if "email" not in cleaned:
        raise InvalidInput("A person needs an email address.", field="email",
                           code="invalidValue")
    active = cleaned.pop("active", True)
    sponsors = cleaned.pop("sponsor_ids", None)
    cleaned["username"] = cleaned.get("username") or cleaned["email"]
    person = User(**cleaned)
    person.display_name = person.display_name or person.get_full_name() \
        or person.email.split("@", 1)[0]
    person.set_unusable_password()
    person.connected_organization = organization_of(email=person.email,
                                                    user_type=person.user_type)
    _record_source(person, source, [*cleaned, "active"] + (["sponsor_ids"] if sponsors else []))
    person.save()
    if sponsors:
        person.sponsors.set(sponsors)
    audit_record(actor=actor, action="user.provisioned", obj=person,
                 after=_snapshot(person, [*cleaned, "sponsor_ids"]
                                 + (["connected_organization_id"]
                                    if person.connected_organization_id else [])),
                 details={"provisionedBy": source.display_name if source else None})
    if not active:
        person_deactivate_locked(person, actor=actor, reason="Provisioned as inactive.")
    else:
        people_rules_evaluate_after_commit([person.pk])  # the joiner's automatic assignments
    return person


def _person_locked(user_id) -> User:
    person = User.objects.select_for_update(of=("self",)).filter(pk=user_id) \
        .exclude(user_type=UserType.SERVICE).exclude(account_state=AccountState.DELETED) \
        .select_related("provisioned_by").first()
    if person is None:
        raise NotFound(f"There is no person {user_id}.", code="userNotFound")
    return person


@transaction.atomic
def person_update(*, actor: User | None, user_id, changes: Mapping) -> User:
    """The mover: change some of a person's values, keeping the others.

    A new manager takes over the person's pending manager-approval stages; `active` false is
    the leaver, true re-activates. Audited with the values before and after.
    """
    person = _person_locked(user_id)
    source = _require(actor, person)
    cleaned = _cleaned(person, changes, source)
    _refuse_managed(person, cleaned, source)
    active = cleaned.pop("active", None)
    sponsors = cleaned.pop("sponsor_ids", None)
    fields = [f for f in cleaned if getattr(person, f) != cleaned[f]]
    organization_id = person.connected_organization_id
    if {"email", "user_type"} & set(fields):
        # A guest belongs to their address's organization, a member to none.
        organization = organization_of(email=cleaned.get("email", person.email),
                                       user_type=cleaned.get("user_type", person.user_type))
        organization_id = organization.pk if organization else None
    moved = ([] if organization_id == person.connected_organization_id
             else ["connected_organization_id"])
    before = _snapshot(person, fields + moved + (["sponsor_ids"] if sponsors is not None else []))
    old_manager = person.manager
    for field in fields:
        setattr(person, field, cleaned[field])
    person.connected_organization_id = organization_id
    if "email" in fields and "username" not in changes and person.provisioned_by_id is None:
        person.username = person.email
    _record_source(person, source, [*cleaned] + (["active"] if active is not None else [])
                   + (["sponsor_ids"] if sponsors is not None else []))
    person.save()
    if sponsors is not None:
        person.sponsors.set(sponsors)
    after = _snapshot(person, list(before))
    if after != before:
        audit_record(actor=actor, action="user.updated", obj=person, before=before,
                     after=after)
    if "manager" in fields:
        reroute_manager_stages(person, old_manager=old_manager, new_manager=person.manager,
                               actor=actor)
    if active is False and person.is_active:
        person_deactivate_locked(person, actor=actor, reason="Deactivated by "
                                 + (source.display_name if source else "an administrator"))
    elif active is True and not person.is_active:
        person_reactivate_locked(person, actor=actor)
    if RULE_FIELDS & {*fields, *(["active"] if active is not None else [])}:
        # The mover: the automatic policies' rules read these (the leaver's access is
        # already gone; evaluating them finds nothing more to do).
        people_rules_evaluate_after_commit([person.pk])
    return person


def _sponsor_ids(person: User) -> list[int]:
    return list(person.sponsors.order_by("pk").values_list("pk", flat=True))


@transaction.atomic
def person_sponsor_add(*, actor: User | None, user_id, sponsor_id) -> User:
    """One more sponsor, the others kept: the list is read under the person's lock, so two
    callers adding one each both hold."""
    person = _person_locked(user_id)
    current = _sponsor_ids(person)
    if str(sponsor_id) in map(str, current):
        raise InvalidInput(f"{sponsor_id} is a sponsor of {person.email} already.",
                           field="sponsor_ids", code="sponsorExists")
    return person_update(actor=actor, user_id=person.pk,
                         changes={"sponsor_ids": [*current, sponsor_id]})


@transaction.atomic
def person_sponsor_remove(*, actor: User | None, user_id, sponsor_id) -> User:
    person = _person_locked(user_id)
    current = _sponsor_ids(person)
    kept = [pk for pk in current if str(pk) != str(sponsor_id).strip()]
    if len(kept) == len(current):
        raise NotFound(f"{sponsor_id} is not a sponsor of {person.email}.",
                       code="sponsorNotFound")
    return person_update(actor=actor, user_id=person.pk, changes={"sponsor_ids": kept})


@transaction.atomic
def person_deactivate(*, actor: User | None, user_id, reason: str = "") -> User:
    """The leaver: sign-in refused at once, sessions and tokens ended, every assignment
    removed, pending requests cancelled, approvals and reviews they owe handed on. An
    administrator may deactivate anyone, provisioned or not."""
    person = _person_locked(user_id)
    _require(actor, person)
    if not person.is_active:
        raise InvalidState(f"{person.email} is deactivated already.", code="alreadyInactive")
    person_deactivate_locked(person, actor=actor, reason=reason.strip()[:200])
    return person


@transaction.atomic
def person_reactivate(*, actor: User | None, user_id) -> User:
    """Sign-in again; not access: what the leaver removed stays removed."""
    person = _person_locked(user_id)
    _require(actor, person)
    if person.is_active:
        raise InvalidState(f"{person.email} is active already.", code="alreadyActive")
    person_reactivate_locked(person, actor=actor)
    return person


@transaction.atomic
def person_delete(*, actor: User | None, user_id) -> None:
    """SCIM's DELETE: the leaver, then the person is gone from the directory's lists. The row
    stays (requests and the audit log refer to it), without sign-in or password."""
    person = _person_locked(user_id)
    _require(actor, person)
    if person.is_active:
        person_deactivate_locked(person, actor=actor, reason="Deleted by provisioning.")
    person_delete_locked(person, actor=actor)
