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
