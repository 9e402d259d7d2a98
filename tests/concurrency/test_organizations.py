"""Two people of the same unknown domain arrive at the same moment: one proposed organization."""

import pytest
from django.db import transaction

from governance.models import ConnectedOrganization, IdentitySource
from governance.services.organizations import organization_propose_for
from tests.concurrency.race import raise_unexpected, run_together
from tests.factories import GuestFactory

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

ROUNDS = 20


def _propose(user):
    def call():
        with transaction.atomic():
            return organization_propose_for(user=user, actor=None).pk
    return call


def test_simultaneous_arrivals_share_one_proposed_organization(fast_passwords):
    for round_ in range(ROUNDS):
        domain = f"newcomer{round_}.example"
        first = GuestFactory(email=f"ann@{domain}")
        second = GuestFactory(email=f"bob@{domain}")
        outcomes = run_together(_propose(first), _propose(second))
        raise_unexpected(outcomes)
        assert outcomes[0].value == outcomes[1].value
        assert IdentitySource.objects.filter(domain_name=domain).count() == 1
        first.refresh_from_db()
        second.refresh_from_db()
        assert first.connected_organization_id == second.connected_organization_id
    assert ConnectedOrganization.objects.filter(state="proposed").count() == ROUNDS


def test_two_administrators_claiming_one_new_domain_at_once(fast_passwords, monkeypatch):
    """Both may pass the uniqueness check before either inserts; the database's unique index
    then holds the second back, and the service answers it with the same refusal as the check
    (never a bare IntegrityError)."""
    from governance.services import organizations
    from governance.services.errors import Duplicate
    from governance.services.organizations import organization_save
    from tests.factories import UserFactory

    checks = []
    check = organizations._domains_check

    def counted(*args, **kwargs):
        checks.append(1)
        return check(*args, **kwargs)

    monkeypatch.setattr(organizations, "_domains_check", counted)

    first_admin = UserFactory(email="first@access.example", is_superuser=True)
    second_admin = UserFactory(email="second@access.example", is_superuser=True)

    def create(actor, name, domain):
        return lambda: organization_save(actor=actor, organization_id=None, display_name=name,
                                         domains=[domain]).pk

    for round_ in range(ROUNDS):
        domain = f"contested{round_}.example"
        outcomes = run_together(create(first_admin, f"First {round_}", domain),
                                create(second_admin, f"Second {round_}", domain))
        assert sorted(outcome.ok for outcome in outcomes) == [False, True]
        refused = next(outcome.error for outcome in outcomes if not outcome.ok)
        assert isinstance(refused, Duplicate), repr(refused)
        assert refused.field == "domains" and f"“{domain}”" in refused.message
        assert IdentitySource.objects.filter(domain_name=domain).count() == 1
    # The refused creation left no organization without a domain behind.
    assert ConnectedOrganization.objects.filter(identity_sources__isnull=True).count() == 0
    # A check after a failed insert happened: both calls did pass the first check in a round.
    assert len(checks) > 2 * ROUNDS
