"""Losing Redis loses nothing: the database holds the work, and the sweeps find it."""

import logging

import pytest

from governance import tasks
from governance.choices import DeliveryState, RequestState
from governance.models import AssignmentRequest, GroupMembership, RoleDelivery
from governance.services.requests import request_admin_add
from tests.factories import build_world
from tests.integration.conftest import wait_for

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


def _point_broker_at(app, url):
    # Library configuration, not our code: the connection and producer pools (kombu keeps a
    # global registry of them too) are rebuilt for the new URL.
    from kombu import pools

    app.conf.broker_url = url
    app.pool.force_close_all()
    app._pool = None
    app.amqp._producer_pool = None
    pools.reset()


@pytest.fixture
def redis_outage(task_queue):
    from portal.celery import app

    working = app.conf.broker_url
    _point_broker_at(app, "redis://127.0.0.1:9/0")  # nothing listens on port 9

    def recover():
        _point_broker_at(app, working)

    yield recover
    recover()


def test_access_granted_while_redis_is_down_is_delivered_by_the_next_sweep(
        redis_outage, caplog, request):
    world = build_world()
    with caplog.at_level(logging.WARNING, logger="governance.services.internal.dispatch"):
        assignment_request = request_admin_add(
            actor=world.owner, access_package_id=world.package.pk, policy_id=world.policy.pk,
            target=world.member, justification="Direct assignment during an outage")
    assert "Could not queue deliver_assignments" in caplog.text
    # Nothing was lost: the deliveries wait in the database.
    assert set(RoleDelivery.objects.values_list("state", flat=True)) == {DeliveryState.PENDING}
    assert not GroupMembership.objects.filter(user=world.member).exists()

    redis_outage()
    request.getfixturevalue("celery_worker")
    tasks.sweep_deliveries.delay()  # what beat sends every minute
    wait_for(lambda: AssignmentRequest.objects.filter(
        pk=assignment_request.pk, state=RequestState.DELIVERED).exists(),
        what="the sweep to deliver")
    assert GroupMembership.objects.filter(user=world.member).count() == 2
