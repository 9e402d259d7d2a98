"""Out of office: an approver names a member to stand in for a range of days. Approval
stages that start (or escalate) inside the range also go to the delegate; see
`approvals._with_delegates`."""

from datetime import date, timedelta

from django.db import transaction
from django.utils.formats import date_format

from governance import clock
from governance.choices import UserType
from governance.models import ApprovalDelegation, User
from governance.selectors.delegations import day_start, delegation_days, zone_of
from governance.services.audit import audit_record
from governance.services.errors import InvalidInput, InvalidState, NotFound

MAX_DAYS = 366


def _day(day: date) -> str:
    return date_format(day, "DATE_FORMAT")


def _delegate(approver: User, delegate_email: str) -> User:
    email = (delegate_email or "").strip()
    delegate = User.objects.filter(email__iexact=email).first() if email else None
    if delegate is None:
        raise InvalidInput(f"Nobody in the directory has the address {email or '(none)'}.",
                           field="delegate_email", code="delegateNotFound")
    if delegate.pk == approver.pk:
        raise InvalidInput("Name someone else: you cannot stand in for yourself.",
                           field="delegate_email", code="delegateSelf")
    if not delegate.is_active:
        raise InvalidInput(f"{delegate}’s account is disabled, so they cannot stand in for you.",
                           field="delegate_email", code="delegateInactive")
    if delegate.user_type == UserType.GUEST:
        raise InvalidInput(f"{delegate} is an external user; only members of the organization "
                           "can stand in for you.", field="delegate_email",
                           code="delegateExternal")
    return delegate


def _check_days(starts_on: date, ends_on: date, today: date) -> None:
    if ends_on < starts_on:
        raise InvalidInput("The last day must be on or after the first day.", field="ends_on",
                           code="endBeforeStart")
    if ends_on < today:
        raise InvalidInput(f"The last day, {_day(ends_on)}, has already passed.",
                           field="ends_on", code="endInPast")
    if (ends_on - starts_on).days + 1 > MAX_DAYS:
        raise InvalidInput(f"An out-of-office period can last at most {MAX_DAYS} days.",
                           field="ends_on", code="rangeTooLong")


def delegation_set(*, approver: User, delegate_email: str, starts_on: date,
                   ends_on: date) -> ApprovalDelegation:
    """Name `delegate_email` to receive, with `approver`, the approvals that start from the
    first moment of `starts_on` to the last of `ends_on`, in the approver's time zone.

    :raises InvalidInput: unknown, disabled or external delegate, oneself, days out of order,
        already past or over a year, or overlapping another period of this approver.
    """
    zone = zone_of(approver)
    now = clock.now()
    _check_days(starts_on, ends_on, now.astimezone(zone).date())
    starts_at = day_start(starts_on, zone)
    ends_at = day_start(ends_on + timedelta(days=1), zone)
    with transaction.atomic():
        # One approver's periods are checked and written one at a time, so two at once
        # cannot both pass the overlap check.
        approver = User.objects.select_for_update().get(pk=approver.pk)
        delegate = _delegate(approver, delegate_email)
        # What ended already no longer matters: only the part from now on may overlap.
        overlapping = (ApprovalDelegation.objects
                       .filter(approver=approver, starts_at__lt=ends_at,
                               ends_at__gt=max(starts_at, now))
                       .select_related("delegate").order_by("starts_at").first())
        if overlapping is not None:
            first, last = delegation_days(overlapping, approver)
            raise InvalidInput(
                f"You are already out of office from {_day(first)} to {_day(last)}, with "
                f"{overlapping.delegate} standing in. Choose other days, or cancel that "
                "period first.", field="starts_on", code="delegationOverlaps")
        delegation = ApprovalDelegation.objects.create(
            approver=approver, delegate=delegate, starts_at=starts_at, ends_at=ends_at,
            created_at=now)
        audit_record(actor=approver, action="delegation.created", obj=delegation, after={
            "approver": approver.email, "delegate": delegate.email,
            "startsAt": starts_at.isoformat(), "endsAt": ends_at.isoformat()})
    return delegation


def delegation_cancel(*, approver: User, delegation_id: int) -> ApprovalDelegation | None:
    """End one of the approver's own periods now, or delete it if it has not started.
    Stages already shared with the delegate stay shared. Returns the ended period, or None
    when it was deleted."""
    with transaction.atomic():
        delegation = (ApprovalDelegation.objects.select_for_update(of=("self",))
                      .filter(pk=delegation_id, approver=approver)
                      .select_related("delegate").first())
        if delegation is None:
            raise NotFound("This out-of-office period does not exist.",
                           code="delegationNotFound")
        now = clock.now()
        if delegation.ends_at <= now:
            raise InvalidState("This out-of-office period has already ended.",
                               code="delegationEnded")
        before = {"delegate": delegation.delegate.email,
                  "startsAt": delegation.starts_at.isoformat(),
                  "endsAt": delegation.ends_at.isoformat()}
        if delegation.starts_at >= now:
            audit_record(actor=approver, action="delegation.canceled", obj=delegation,
                         before=before, after=None, details={"deleted": True})
            delegation.delete()
            return None
        delegation.ends_at = now
        delegation.save(update_fields=["ends_at"])
        audit_record(actor=approver, action="delegation.canceled", obj=delegation,
                     before=before, after={"endsAt": now.isoformat()},
                     details={"deleted": False})
        return delegation
