"""Out of office: setting and canceling a delegate, and which approvals reach them."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from governance.choices import ApproverKind, Decision, RequestState
from governance.models import ApprovalDelegation, AuditEvent, OutboxMessage
from governance.selectors.delegations import delegating_to, delegations_of
from governance.services.approvals import stage_decide, stages_escalate_due
from governance.services.delegations import delegation_cancel, delegation_set
from governance.services.errors import InvalidInput, InvalidState, NotFound
from governance.services.requests import request_submit
from tests.factories import MONDAY, UserFactory, member_package, submit_request


def _away(world, deputy, starts_on=date(2026, 3, 2), ends_on=date(2026, 3, 6), **kwargs):
    return delegation_set(approver=kwargs.pop("approver", world.approver),
                          delegate_email=kwargs.pop("delegate_email", deputy.email),
                          starts_on=starts_on, ends_on=ends_on)


def _stage_approvers(request, order=1):
    return set(request.stages.get(order=order).stage_approvers
               .values_list("user__email", "kind"))


# Setting a period


def test_days_are_whole_days_in_the_approvers_time_zone(world, deputy, monday):
    world.approver.time_zone = "Asia/Tokyo"
    world.approver.save()
    delegation = _away(world, deputy)
    tokyo = ZoneInfo("Asia/Tokyo")
    assert delegation.starts_at == datetime(2026, 3, 2, tzinfo=tokyo)
    assert delegation.ends_at == datetime(2026, 3, 7, tzinfo=tokyo)
    assert delegation.delegate == deputy
    event = AuditEvent.objects.get(action="delegation.created")
    assert (event.actor, event.object_id) == (world.approver, str(delegation.pk))
    assert event.after["delegate"] == deputy.email


def test_without_a_zone_the_portals_is_used_and_the_address_is_case_blind(world, deputy,
                                                                         settings, monday):
    settings.TIME_ZONE = "America/New_York"
    delegation = _away(world, deputy, delegate_email=" DEPUTY@Access.Example ")
    new_york = ZoneInfo("America/New_York")
    assert delegation.starts_at == datetime(2026, 3, 2, tzinfo=new_york)
    # 8 March 2026 is when New York moves its clocks: the end is still that day's midnight.
    assert delegation.ends_at == datetime(2026, 3, 7, tzinfo=new_york)
    assert delegation.delegate == deputy


def test_a_period_of_366_days_is_allowed(world, deputy, monday):
    delegation = _away(world, deputy, ends_on=date(2027, 3, 2))
    assert delegation.ends_at - delegation.starts_at == timedelta(days=366)


def test_a_new_period_may_start_the_day_a_canceled_one_ended(world, deputy, monday):
    current = _away(world, deputy)
    monday.shift(timedelta(hours=2))
    delegation_cancel(approver=world.approver, delegation_id=current.pk)
    other = UserFactory(email="other.deputy@access.example")
    replacement = _away(world, deputy, delegate_email=other.email)
    assert replacement.delegate == other


# Refusals


def _refusal_cases():
    return [
        ("unknown", {"delegate_email": "nobody@access.example"}, "delegateNotFound",
         "delegate_email", ["nobody@access.example"]),
        ("oneself", {"delegate_email": "approver@access.example"}, "delegateSelf",
         "delegate_email", ["yourself"]),
        ("inactive", {"delegate_email": "gone@access.example"}, "delegateInactive",
         "delegate_email", ["disabled"]),
        ("guest", {"delegate_email": "requester@contoso.example"}, "delegateExternal",
         "delegate_email", ["external user", "members of the organization"]),
        ("end before start", {"starts_on": date(2026, 3, 6), "ends_on": date(2026, 3, 5)},
         "endBeforeStart", "ends_on", ["last day"]),
        ("end in the past", {"starts_on": date(2026, 2, 20), "ends_on": date(2026, 3, 1)},
         "endInPast", "ends_on", ["1 Mar 2026", "passed"]),
        ("too long", {"ends_on": date(2027, 3, 3)}, "rangeTooLong", "ends_on", ["366 days"]),
    ]


@pytest.mark.parametrize(("case", "arguments", "code", "field", "words"), _refusal_cases(),
                         ids=[case[0] for case in _refusal_cases()])
def test_refusals_name_the_field_and_change_nothing(world, deputy, monday, assert_refused,
                                                    case, arguments, code, field, words):
    UserFactory(email="gone@access.example", is_active=False)
    refusal = assert_refused(lambda: _away(world, deputy, **arguments), InvalidInput, code,
                             *words)
    assert refusal.field == field
    assert not ApprovalDelegation.objects.exists()


def test_an_overlapping_period_is_refused_and_named(world, deputy, monday, assert_refused):
    _away(world, deputy, starts_on=date(2026, 3, 9), ends_on=date(2026, 3, 13))
    refusal = assert_refused(
        lambda: _away(world, deputy, starts_on=date(2026, 3, 13), ends_on=date(2026, 3, 20)),
        InvalidInput, "delegationOverlaps", "9 Mar 2026", "13 Mar 2026", "Deputy")
    assert refusal.field == "starts_on"
    assert ApprovalDelegation.objects.count() == 1
    # The day after the last one is free; so is another approver's same week.
    _away(world, deputy, starts_on=date(2026, 3, 14), ends_on=date(2026, 3, 20))
    _away(world, deputy, approver=world.second_approver, starts_on=date(2026, 3, 9),
          ends_on=date(2026, 3, 13))
    assert ApprovalDelegation.objects.count() == 3


# Which approvals reach the delegate


def test_a_request_inside_the_period_goes_to_the_approver_and_the_delegate(world, deputy,
                                                                          monday):
    _away(world, deputy)
    monday.shift(timedelta(days=1))
    request = submit_request(world)
    assert _stage_approvers(request) == {(world.approver.email, ApproverKind.PRIMARY),
                                         (deputy.email, ApproverKind.DELEGATE)}
    assert set(OutboxMessage.objects.filter(topic="approval_needed")
               .values_list("recipient__email", flat=True)) == {world.approver.email,
                                                                deputy.email}
    stage_decide(stage_id=request.stages.get(order=1).pk, approver=deputy,
                 decision=Decision.APPROVE, justification="Standing in for Approver")
    request.refresh_from_db()
    assert request.status == "Pending approval, stage 2 of 2"
    assert request.stages.get(order=1).decision.approver == deputy
    # Stage 2's approver has no delegate: the deputy is not on it.
    assert _stage_approvers(request, 2) == {(world.second_approver.email,
                                             ApproverKind.PRIMARY)}


def test_requests_before_or_after_the_period_do_not_reach_the_delegate(world, deputy, monday):
    _away(world, deputy, starts_on=date(2026, 3, 9), ends_on=date(2026, 3, 13))
    before = submit_request(world)
    monday.move_to(datetime(2026, 3, 14, 0, 0, tzinfo=UTC))  # the first moment after it
    after = _member_request(world)  # the requester's first is still pending
    for request in (before, after):
        assert deputy.email not in {email for email, _ in _stage_approvers(request)}
    assert not OutboxMessage.objects.filter(recipient=deputy).exists()


def test_the_last_moment_of_the_period_still_counts(world, deputy, monday):
    _away(world, deputy, starts_on=date(2026, 3, 9), ends_on=date(2026, 3, 13))
    monday.move_to(datetime(2026, 3, 13, 23, 59, 59, tzinfo=UTC))
    request = submit_request(world)
    assert (deputy.email, ApproverKind.DELEGATE) in _stage_approvers(request)


def test_escalation_inside_the_period_adds_the_escalation_approvers_delegate(world, deputy,
                                                                           monday):
    alternate = UserFactory(email="alternate@access.example")
    package = member_package(world, escalation=[alternate], escalate_after_days=3)
    request = request_submit(requestor=world.member, access_package_id=package.pk)
    assert _stage_approvers(request) == {(world.approver.email, ApproverKind.PRIMARY)}
    _away(world, deputy, approver=alternate, starts_on=date(2026, 3, 5),
          ends_on=date(2026, 3, 6))
    monday.shift(timedelta(days=3, minutes=1))
    assert stages_escalate_due() == 1
    assert _stage_approvers(request) == {(world.approver.email, ApproverKind.PRIMARY),
                                         (alternate.email, ApproverKind.ESCALATION),
                                         (deputy.email, ApproverKind.DELEGATE)}
    assert OutboxMessage.objects.filter(topic="approval_escalated", recipient=deputy).exists()
    stage_decide(stage_id=request.stages.get().pk, approver=deputy, decision=Decision.DENY)
    request.refresh_from_db()
    assert request.state == RequestState.DENIED


def _member_request(world):
    return request_submit(requestor=world.member,
                          access_package_id=member_package(world).pk)


# Canceling


def test_canceling_a_running_period_ends_it_now(world, deputy, monday):
    delegation = _away(world, deputy)
    monday.shift(timedelta(days=1))
    assert delegation_cancel(approver=world.approver, delegation_id=delegation.pk) is not None
    delegation.refresh_from_db()
    assert delegation.ends_at == MONDAY + timedelta(days=1)
    event = AuditEvent.objects.get(action="delegation.canceled")
    assert event.details == {"deleted": False} and event.actor == world.approver
    request = submit_request(world)
    assert deputy.email not in {email for email, _ in _stage_approvers(request)}
    assert list(delegations_of(world.approver)) == []


def test_canceling_a_period_that_has_not_started_deletes_it(world, deputy, monday):
    delegation = _away(world, deputy, starts_on=date(2026, 3, 9), ends_on=date(2026, 3, 13))
    assert delegation_cancel(approver=world.approver, delegation_id=delegation.pk) is None
    assert not ApprovalDelegation.objects.exists()
    event = AuditEvent.objects.get(action="delegation.canceled")
    assert event.details == {"deleted": True}
    assert event.object_id == str(delegation.pk)


def test_only_ones_own_running_period_can_be_canceled(world, deputy, monday, assert_refused):
    delegation = _away(world, deputy)
    for person in (deputy, world.second_approver):
        assert_refused(lambda person=person: delegation_cancel(
            approver=person, delegation_id=delegation.pk), NotFound, "delegationNotFound")
    monday.shift(timedelta(days=7))
    assert_refused(lambda: delegation_cancel(approver=world.approver,
                                             delegation_id=delegation.pk),
                   InvalidState, "delegationEnded", "already ended")
    delegation.refresh_from_db()
    assert delegation.ends_at == datetime(2026, 3, 7, tzinfo=UTC)


# Selectors


def test_selectors_show_current_and_future_periods_and_who_stands_in(world, deputy, monday):
    now = _away(world, deputy)
    later = _away(world, deputy, starts_on=date(2026, 4, 1), ends_on=date(2026, 4, 3))
    assert list(delegations_of(world.approver)) == [now, later]
    assert list(delegations_of(deputy)) == []
    assert list(delegating_to(deputy)) == [now]
    assert list(delegating_to(world.approver)) == []
    monday.move_to(datetime(2026, 3, 20, tzinfo=UTC))
    assert list(delegations_of(world.approver)) == [later]
    assert list(delegating_to(deputy)) == []
