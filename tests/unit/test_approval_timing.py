"""When approvers hear about a stage: reminders, escalation and the deadline, in travelled time."""

from datetime import UTC, datetime, timedelta

import time_machine

from governance.choices import Decision, RequestState, StageState
from governance.models import AuditEvent, OutboxMessage
from governance.security.approval_links import LinkProblem, approval_link_check, approval_link_token
from governance.services.approvals import (
    reminder_times,
    stage_decide,
    stages_escalate_due,
    stages_remind_due,
    stages_time_out_due,
)
from governance.services.requests import request_submit
from tests.factories import UserFactory, member_package


def _request(world, **stage_options):
    """A member's request for a one-stage package configured by `stage_options`."""
    package = member_package(world, **stage_options)
    return request_submit(requestor=world.member, access_package_id=package.pk)


def _sweep_at(moment):
    """Run the approvals sweep as beat would at `moment`; what each part did."""
    with time_machine.travel(moment, tick=False):
        return {"reminded": stages_remind_due(), "escalated": stages_escalate_due(),
                "timedOut": stages_time_out_due()}


def _emails(topic):
    return sorted(OutboxMessage.objects.filter(topic=topic).values_list("to_address", flat=True))


def test_reminders_fall_halfway_and_one_day_before_the_deadline():
    start = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    assert reminder_times(start, start + timedelta(days=14)) == [
        start + timedelta(days=7), start + timedelta(days=13)]
    # Two days: halfway is one day before, so there is one reminder, not two.
    assert reminder_times(start, start + timedelta(days=2)) == [start + timedelta(days=1)]
    # One day: "one day before" is the start itself, so only the halfway reminder is left.
    assert reminder_times(start, start + timedelta(days=1)) == [start + timedelta(hours=12)]


def test_a_fourteen_day_stage_reminds_twice_then_expires(world):
    request = _request(world, deadline_days=14)
    stage = request.stages.get()
    start = stage.started_at

    assert _sweep_at(start + timedelta(days=7) - timedelta(minutes=1))["reminded"] == 0
    assert _emails("approval_reminder") == []

    assert _sweep_at(start + timedelta(days=7))["reminded"] == 1
    assert _emails("approval_reminder") == ["approver@access.example"]
    # The same sweep again, on this worker or another, reminds nobody twice.
    assert _sweep_at(start + timedelta(days=7, minutes=1))["reminded"] == 0

    assert _sweep_at(start + timedelta(days=13))["reminded"] == 1
    assert _emails("approval_reminder") == ["approver@access.example"] * 2
    assert _sweep_at(start + timedelta(days=13, hours=12)) == {
        "reminded": 0, "escalated": 0, "timedOut": 0}

    assert _sweep_at(start + timedelta(days=14)) == {"reminded": 0, "escalated": 0,
                                                      "timedOut": 1}
    request.refresh_from_db()
    assert (request.state, request.status) == (RequestState.DENIED, "Expired")
    assert _emails("approval_expired") == ["approver@access.example"]
    assert _emails("request_expired") == ["member@access.example"]
    assert AuditEvent.objects.filter(action="stage.reminded").count() == 2


def test_a_decided_stage_sends_no_reminder(world):
    request = _request(world, deadline_days=14)
    stage = request.stages.get()
    stage_decide(stage_id=stage.pk, approver=world.approver, decision=Decision.APPROVE)
    assert _sweep_at(stage.started_at + timedelta(days=13)) == {
        "reminded": 0, "escalated": 0, "timedOut": 0}
    assert _emails("approval_reminder") == []


def test_a_reminder_missed_while_workers_were_down_is_sent_once_not_twice(world):
    request = _request(world, deadline_days=14)
    stage = request.stages.get()
    # The workers come back on day 13.5: both reminders are due, one email goes.
    assert _sweep_at(stage.started_at + timedelta(days=13, hours=12))["reminded"] == 1
    assert _emails("approval_reminder") == ["approver@access.example"]
    stage.refresh_from_db()
    assert stage.next_reminder_at is None


def test_escalation_forwards_with_new_links_and_the_first_links_keep_working(world):
    alternate = UserFactory(email="alternate@access.example")
    request = _request(world, deadline_days=14, escalation=[alternate], escalate_after_days=5)
    stage = request.stages.get()
    start = stage.started_at
    first_link = approval_link_token(stage, world.approver.pk)

    assert _sweep_at(start + timedelta(days=5) - timedelta(minutes=1))["escalated"] == 0
    assert _sweep_at(start + timedelta(days=5))["escalated"] == 1
    assert _emails("approval_escalated") == ["alternate@access.example"]
    assert _sweep_at(start + timedelta(days=5, hours=1))["escalated"] == 0

    # The halfway reminder goes to everyone who can decide now, the alternate included.
    assert _sweep_at(start + timedelta(days=7))["reminded"] == 1
    assert _emails("approval_reminder") == ["alternate@access.example",
                                            "approver@access.example"]

    with time_machine.travel(start + timedelta(days=8), tick=False):
        assert approval_link_check(first_link, world.approver).problem is None
        alternate_link = approval_link_token(stage, alternate.pk)
        assert approval_link_check(alternate_link, alternate).problem is None
        stage_decide(stage_id=stage.pk, approver=world.approver, decision=Decision.APPROVE)
        assert approval_link_check(alternate_link, alternate).problem == LinkProblem.DECIDED
    assert _emails("approval_decided") == ["alternate@access.example"]


def test_escalation_never_runs_after_the_deadline(world):
    alternate = UserFactory(email="alternate@access.example")
    request = _request(world, deadline_days=3, escalation=[alternate], escalate_after_days=2)
    stage = request.stages.get()
    # Workers down from day 1 to day 4: the stage times out; nobody is forwarded anything.
    assert _sweep_at(stage.started_at + timedelta(days=4)) == {
        "reminded": 0, "escalated": 0, "timedOut": 1}
    stage.refresh_from_db()
    assert stage.state == StageState.TIMED_OUT
    assert _emails("approval_escalated") == []
