"""Connected organizations: the proposed ones that requests from unknown domains create, and
their administration (domains, state, sponsors, deletion) by connected organization
administrators and global administrators.

A guest belongs to the organization their email's domain belongs to, whichever came first
(governance.selectors.directory.organization_of). User.connected_organization keeps that for
the reads, so every service here that adds, removes or deletes a domain re-points its guests
(guests_follow_domains) in the same transaction.
"""

import re
from collections import Counter
from collections.abc import Callable, Iterable

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.db.models.functions import Lower

from governance.choices import (
    AccountState,
    ConnectedOrganizationState,
    GlobalRole,
    IdentitySourceType,
    UserType,
)
from governance.models import ConnectedOrganization, IdentitySource, User
from governance.selectors.directory import organization_for_domain
from governance.selectors.permissions import has_global_role
from governance.services.audit import audit_record, audit_saved
from governance.services.errors import (
    Duplicate,
    InvalidInput,
    InvalidState,
    NotAllowed,
    NotFound,
)
from governance.services.internal.guards import locked_or_not_found


def _guests_of(domains: Iterable[str]) -> QuerySet[User]:
    of_domains = Q()
    for domain in domains:
        # The part after the last @ is the domain, and a domain has no @ of its own.
        of_domains |= Q(email__iendswith=f"@{domain}")
    return User.objects.filter(of_domains, user_type=UserType.GUEST)


def _lowered(domains: Iterable[str]) -> list[str]:
    return sorted({domain.lower() for domain in domains if domain})


def _guests_lock(domains: Iterable[str]) -> None:
    """Lock the guests of `domains` before their domains' rows change: a guest's request that
    proposes an organization holds the guest and then waits on a domain's unique index, so
    whoever writes a domain must not hold the domain while waiting for its guests."""
    domains = _lowered(domains)
    if domains:
        list(_guests_of(domains).select_for_update().order_by("pk").values_list("pk"))


def guests_follow_domains(*, domains: Iterable[str], actor: User | None,
                          skip_locked: bool = False) -> None:
    """Point every guest of `domains` at the organization each domain belongs to now, or at
    none: organization_of's rule, set-based, for a service that added, removed or deleted
    them. Members are never touched.

    One audit event per organization whose guests changed, with how many joined and left.
    `skip_locked` leaves out guests another transaction holds (a proposal made while serving
    someone's request must not wait for, or deadlock with, a neighbour's request).
    """
    domains = _lowered(domains)
    if not domains:
        return
    owners = dict(IdentitySource.objects.annotate(domain=Lower("domain_name"))
                  .filter(domain__in=domains).values_list("domain", "organization_id"))
    joined, left = Counter(), Counter()
    for domain in domains:
        wanted = owners.get(domain)
        moving = list(_guests_of([domain]).exclude(connected_organization_id=wanted)
                      .select_for_update(skip_locked=skip_locked).order_by("pk")
                      .values_list("pk", "connected_organization_id"))
        if not moving:
            continue
        User.objects.filter(pk__in=[pk for pk, _ in moving]) \
            .update(connected_organization_id=wanted)
        left.update(old for _, old in moving)
        joined[wanted] += len(moving)
    changed = (set(joined) | set(left)) - {None}
    for organization in ConnectedOrganization.objects.filter(pk__in=changed).order_by("pk"):
        audit_record(actor=actor, action="connectedOrganization.guestsChanged", obj=organization,
                     details={"guestsJoined": joined[organization.pk],
                              "guestsLeft": left[organization.pk]})


def _propose(domain: str, user: User, actor: User | None) -> ConnectedOrganization:
    try:
        with transaction.atomic():
            organization = ConnectedOrganization.objects.create(
                display_name=domain, state=ConnectedOrganizationState.PROPOSED,
                description=f"Proposed when {user.email} asked for access.")
            IdentitySource.objects.create(organization=organization, display_name=domain,
                                          source_type=IdentitySourceType.DOMAIN,
                                          domain_name=domain)
    except IntegrityError:
        # Someone from the same domain got there first: the domain's organization is theirs.
        return organization_for_domain(domain)
    audit_record(actor=actor, action="connectedOrganization.proposed", obj=organization,
                 after={"displayName": domain, "state": organization.state})
    return organization


def organization_propose_for(*, user: User, actor: User | None) -> ConnectedOrganization:
    """Link a guest from an unknown domain to a `proposed` organization for that domain; the
    domain's other guests (who came before it had one) join it too.

    Called inside the caller's transaction, with the user row locked.
    """
    domain = user.email_domain
    organization = organization_for_domain(domain) or _propose(domain, user, actor)
    user.connected_organization = organization
    user.save(update_fields=["connected_organization"])
    # A neighbour whose row another transaction holds is skipped: that is their own request,
    # which links them itself, or a change the next save of the organization catches up on.
    guests_follow_domains(domains=[domain], actor=actor, skip_locked=True)
    return organization


# Administration: connected organization administrators and global administrators.

# One DNS label: letters, digits and hyphens, not at either end, at most 63 characters.
_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")
_DOMAIN_MAX_LENGTH = 253
_NAME_MAX_LENGTH = ConnectedOrganization._meta.get_field("display_name").max_length
SPONSOR_KINDS = ("internal", "external")


def may_manage_organizations(user: User | None) -> bool:
    return user is not None and has_global_role(user, GlobalRole.CONNECTED_ORG_ADMIN)


def _require_manager(actor: User | None) -> None:
    if not may_manage_organizations(actor):
        raise NotAllowed("Only global administrators and connected organization "
                         "administrators manage connected organizations.")


def domain_normalize(raw: str) -> str:
    """`raw` as stored (lower case, IDNA-encoded, no trailing dot), or InvalidInput saying why."""
    typed = (raw or "").strip()
    domain = typed.removeprefix("@").rstrip(".").lower()
    if not domain:
        raise InvalidInput("A domain cannot be empty.", field="domains")
    try:
        domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        raise InvalidInput(f"“{typed}” is not a valid domain name.", field="domains") from None
    labels = domain.split(".")
    if (len(domain) > _DOMAIN_MAX_LENGTH or len(labels) < 2
            or not all(_LABEL.fullmatch(label) for label in labels)
            or labels[-1].isdigit()):
        raise InvalidInput(f"“{typed}” is not a valid domain name: use the part of the email "
                           "addresses after the @, such as contoso.com.", field="domains")
    if domain in settings.INTERNAL_EMAIL_DOMAINS:
        raise InvalidInput(f"“{domain}” is one of our own domains: its people are members, "
                           "not guests of a connected organization.", field="domains")
    return domain


def _domains_check(domains: Iterable[str], organization_id: int | None) -> list[str]:
    cleaned: list[str] = []
    for raw in domains:
        domain = domain_normalize(raw)
        if domain in cleaned:
            raise InvalidInput(f"The domain “{domain}” is listed twice.", field="domains")
        cleaned.append(domain)
    taken = (IdentitySource.objects.annotate(domain=Lower("domain_name"))
             .filter(domain__in=cleaned).select_related("organization"))
    if organization_id is not None:
        taken = taken.exclude(organization_id=organization_id)
    source = taken.order_by("domain").first()
    if source is not None:
        error = Duplicate(f"The domain “{source.domain}” already belongs to the connected "
                          f"organization “{source.organization}”.", code="domainTaken")
        error.field = "domains"
        raise error
    return cleaned


def _organization_snapshot(organization: ConnectedOrganization) -> dict:
    return {"displayName": organization.display_name, "description": organization.description,
            "state": organization.state,
            "domains": sorted(organization.identity_sources.exclude(domain_name="")
                              .values_list("domain_name", flat=True))}


def _locked_organization(organization_id: int) -> ConnectedOrganization:
    return locked_or_not_found(
        ConnectedOrganization.objects, organization_id,
        "This connected organization no longer exists; someone deleted it.",
        code="organizationNotFound")


def organization_save(*, actor: User | None, organization_id: int | None, display_name: str,
                      description: str = "", domains: Iterable[str],
                      state: str = ConnectedOrganizationState.CONFIGURED
                      ) -> ConnectedOrganization:
    """Create (no `organization_id`) or change a connected organization and its email domains.

    `domains` replaces the organization's domain identity sources; other identity sources
    (tenant ids) stay. The guests of the domains follow them: those of an added domain join
    the organization, those of a removed one leave it (guests_follow_domains).
    """
    return _save(actor, organization_id, lambda organization: {
        "display_name": display_name, "description": description, "domains": domains,
        "state": state})


def organization_update(*, actor: User | None, organization_id: int,
                        change: Callable[[ConnectedOrganization], dict]) -> ConnectedOrganization:
    """Change the organization to what `change` makes of it, read under its lock: the
    arguments of organization_save but the ids (the API's PATCH reads its body so, and two
    PATCHes of different parts both hold)."""
    return _save(actor, organization_id, change)


def _save(actor: User | None, organization_id: int | None,
          change: Callable[[ConnectedOrganization], dict]) -> ConnectedOrganization:
    _require_manager(actor)
    with transaction.atomic():
        if organization_id is None:
            organization, before = ConnectedOrganization(), None
        else:
            organization = _locked_organization(organization_id)
            before = _organization_snapshot(organization)
        wanted = change(organization)
        display_name = " ".join((wanted["display_name"] or "").split())
        if not display_name:
            raise InvalidInput("The organization needs a name.", field="display_name")
        if len(display_name) > _NAME_MAX_LENGTH:
            raise InvalidInput(f"The name can have at most {_NAME_MAX_LENGTH} characters.",
                               field="display_name")
        state = wanted.get("state", ConnectedOrganizationState.CONFIGURED)
        if state not in ConnectedOrganizationState.values:
            raise InvalidInput("The state must be configured or proposed.", field="state")
        description = (wanted.get("description") or "").strip()
        cleaned = _domains_check(wanted["domains"], organization_id)
        others = (organization.identity_sources.filter(domain_name="").exists()
                  if organization_id is not None else False)
        if not cleaned and not others:
            raise InvalidInput("Give at least one domain: the organization's users are "
                               "recognised by the domain of their email address.",
                               field="domains")
        if before == {"displayName": display_name, "description": description, "state": state,
                      "domains": sorted(cleaned)}:
            return organization
        # Every domain it had or gets, not only the changed ones: a guest a skipped proposal
        # or a race left behind is caught up with at the organization's next save.
        domains = [*(before["domains"] if before else ()), *cleaned]
        _guests_lock(domains)
        organization.display_name, organization.description = display_name, description
        organization.state = state
        organization.save(update_fields=None if before is None else
                          ["display_name", "description", "state", "modified_at"])
        kept = set()
        for source in organization.identity_sources.exclude(domain_name=""):
            if source.domain_name.lower() in cleaned:
                kept.add(source.domain_name.lower())
            else:
                source.delete()
        try:
            with transaction.atomic():
                IdentitySource.objects.bulk_create([
                    IdentitySource(organization=organization, display_name=domain,
                                   source_type=IdentitySourceType.DOMAIN, domain_name=domain)
                    for domain in cleaned if domain not in kept])
        except IntegrityError:
            # Another organization took one of the domains since the check.
            _domains_check(cleaned, organization.pk)
            raise
        audit_saved(actor=actor, obj=organization, before=before,
                    after=_organization_snapshot(organization),
                    created="connectedOrganization.created",
                    changed="connectedOrganization.changed")
        guests_follow_domains(domains=domains, actor=actor)
    return organization


def _sponsors(organization: ConnectedOrganization, kind: str):
    if kind not in SPONSOR_KINDS:
        raise InvalidInput("A sponsor is internal or external.", field="kind")
    return (organization.internal_sponsors if kind == "internal"
            else organization.external_sponsors)


def _sponsor_check(organization: ConnectedOrganization, person: User, kind: str) -> None:
    field = f"{kind}_sponsors"
    if person.account_state != AccountState.ACTIVE or not person.is_active:
        raise InvalidInput(f"{person} cannot sponsor: their account is not active.",
                           field=field, code="inactiveSponsor")
    if kind == "internal" and person.user_type != UserType.MEMBER:
        raise InvalidInput(f"{person} is a guest; internal sponsors are members of our "
                           "organization.", field=field, code="sponsorNotMember")
    if kind == "external" and (person.user_type != UserType.GUEST
                               or person.connected_organization_id != organization.pk):
        raise InvalidInput(f"{person} is not a guest of {organization}; external sponsors "
                           "are people of the organization itself.",
                           field=field, code="sponsorNotOfOrganization")


def organization_sponsor_add(*, actor: User | None, organization_id: int, user: User,
                             kind: str) -> None:
    """Make `user` an internal (a member) or external (one of its guests) sponsor."""
    _require_manager(actor)
    with transaction.atomic():
        organization = _locked_organization(organization_id)
        sponsors = _sponsors(organization, kind)
        person = User.objects.filter(pk=user.pk).first()
        if person is None:
            raise NotFound("This person no longer exists.", code="userNotFound")
        _sponsor_check(organization, person, kind)
        if sponsors.filter(pk=person.pk).exists():
            raise Duplicate(f"{person} is already an {kind} sponsor of {organization}.",
                            code="alreadySponsor")
        sponsors.add(person)
        audit_record(actor=actor, action="connectedOrganization.sponsorAdded", obj=organization,
                     after={"sponsor": person.email, "kind": kind},
                     details={"userId": person.pk})


def organization_sponsor_remove(*, actor: User | None, organization_id: int, user: User,
                                kind: str) -> None:
    _require_manager(actor)
    with transaction.atomic():
        organization = _locked_organization(organization_id)
        sponsors = _sponsors(organization, kind)
        if not sponsors.filter(pk=user.pk).exists():
            raise NotFound(f"{user} is not an {kind} sponsor of {organization}.",
                           code="notSponsor")
        sponsors.remove(user)
        audit_record(actor=actor, action="connectedOrganization.sponsorRemoved",
                     obj=organization, before={"sponsor": user.email, "kind": kind},
                     details={"userId": user.pk})


def organization_delete_refusal(organization: ConnectedOrganization) -> str | None:
    """Why `organization` cannot be deleted now, or None. Reads only.

    Policies are counted, not named: a connected organization administrator may have no role
    on their catalogs. Its guests are no reason: they follow their domains, which go with it.
    """
    policies = organization.targeted_by_policies.count()
    if policies:
        target = "an assignment policy targets" if policies == 1 else \
            f"{policies} assignment policies target"
        return (f"{organization} cannot be deleted while {target} it: its catalog owners "
                "must remove it from them first.")
    return None


def organization_delete(*, actor: User | None, organization_id: int) -> None:
    """Delete an organization that no policy targets, with its domains: its guests then
    belong to no organization (audited as guests who left it)."""
    _require_manager(actor)
    with transaction.atomic():
        organization = _locked_organization(organization_id)
        refusal = organization_delete_refusal(organization)
        if refusal:
            raise InvalidState(refusal, code="organizationInUse")
        before = _organization_snapshot(organization)
        _guests_lock(before["domains"])
        organization.identity_sources.all().delete()
        guests_follow_domains(domains=before["domains"], actor=actor)
        before["internalSponsors"] = sorted(organization.internal_sponsors
                                            .values_list("email", flat=True))
        before["externalSponsors"] = sorted(organization.external_sponsors
                                            .values_list("email", flat=True))
        audit_record(actor=actor, action="connectedOrganization.deleted", obj=organization,
                     before=before)
        organization.delete()
