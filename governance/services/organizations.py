"""Connected organizations: the proposed ones that requests from unknown domains create."""

from django.db import IntegrityError, transaction

from governance.choices import ConnectedOrganizationState, IdentitySourceType
from governance.models import ConnectedOrganization, IdentitySource, User
from governance.services.audit import audit_record


def organization_for_domain(domain: str) -> ConnectedOrganization | None:
    source = IdentitySource.objects.select_related("organization") \
        .filter(domain_name__iexact=domain).first()
    return source.organization if source else None


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
    """Link a guest from an unknown domain to a `proposed` organization for that domain.

    Called inside the caller's transaction, with the user row locked.
    """
    domain = user.email_domain
    organization = organization_for_domain(domain) or _propose(domain, user, actor)
    user.connected_organization = organization
    user.save(update_fields=["connected_organization"])
    return organization
