"""People's accounts in target systems: blocking, unblocking and deleting them there.

The external-user lifecycle (services/guests.py) blocks, unblocks and deletes people in the
portal; these functions carry the same change into every system where the person has an
account, through the workers: claim, call the connector outside any transaction, record
the result, retry with backoff, as deliveries do.
"""

from collections.abc import Iterable
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F, Q

from governance import clock
from governance.choices import AccountAction, AccountState
from governance.connectors import ConnectorError, Person, connector_for_system
from governance.models import SystemAccount
from governance.services.audit import audit_record
from governance.services.internal.bulk import ids_in
from governance.services.internal.dispatch import after_commit
from governance.services.internal.retry import retry_at

MAX_ATTEMPTS = 6
STUCK_AFTER = timedelta(minutes=10)

_STATE_AFTER = {AccountAction.BLOCK: AccountState.BLOCKED,
                AccountAction.UNBLOCK: AccountState.ACTIVE,
                AccountAction.DELETE: AccountState.DELETED}


def accounts_change(*, user_ids: Iterable[int], action: str) -> int:
    """Queue `action` for these people's accounts in every target system (caller's
    transaction). A later action replaces one not yet carried out: unblocking a person
    whose block is still queued leaves their account as it was."""
    accounts = SystemAccount.objects.filter(user_id__in=ids_in(user_ids)).exclude(
        state=AccountState.DELETED)
    # Already so, and no worker holds it: forget any queued opposite action. (A row a worker
    # holds is re-queued instead, since the change it is making may land after all.)
    already = Q(state=_STATE_AFTER[action], claimed_at__isnull=True)
    accounts.filter(already).update(pending_action="")
    count = accounts.exclude(already).update(
        pending_action=action, attempts=0, last_error="", next_attempt_at=clock.now(),
        claimed_at=None)
    if count:
        after_commit("process_accounts")
    return count


def _claim(batch_size: int) -> tuple[list[SystemAccount], datetime]:
    now = clock.now()
    due = (Q(next_attempt_at__lte=now, claimed_at__isnull=True)
           | Q(claimed_at__lte=now - STUCK_AFTER))
    with transaction.atomic():
        rows = list(SystemAccount.objects.exclude(pending_action="").filter(due)
                    .select_for_update(skip_locked=True).order_by("next_attempt_at")
                    .values_list("pk", flat=True)[:batch_size])
        SystemAccount.objects.filter(pk__in=rows).update(claimed_at=now,
                                                         attempts=F("attempts") + 1)
        claimed = list(SystemAccount.objects.filter(pk__in=rows).select_related("system",
                                                                                "user"))
    return claimed, now


def _carry_out(account: SystemAccount) -> None:
    connector = connector_for_system(account.system)
    person = Person(account.user_id, account.user.email, account.user.display_name,
                    account.external_id)
    {AccountAction.BLOCK: connector.block_user, AccountAction.UNBLOCK: connector.unblock_user,
     AccountAction.DELETE: connector.delete_user}[account.pending_action](person)


def _record(account: SystemAccount, error: ConnectorError | None, claimed_at: datetime) -> None:
    now = clock.now()
    # Compare-and-set: a newer action queued meanwhile (or a sweeper's re-claim) wins.
    current = SystemAccount.objects.filter(pk=account.pk, claimed_at=claimed_at,
                                           pending_action=account.pending_action)
    if error is None:
        state = _STATE_AFTER[account.pending_action]
        if current.update(state=state, pending_action="", last_error="", claimed_at=None,
                          next_attempt_at=None):
            audit_record(actor=None, action=f"systemAccount.{state}", obj=account,
                         before={"state": account.state}, after={"state": state},
                         details={"system": account.system_id, "user": account.user_id})
        return
    final = not error.retryable or account.attempts >= MAX_ATTEMPTS
    # A final failure keeps its pending action, without a next attempt: the admin shows it.
    next_attempt = None if final else retry_at(now, account.attempts, error.retry_after)
    current.update(last_error=str(error)[:2000], claimed_at=None, next_attempt_at=next_attempt)


def accounts_process(*, batch_size: int = 100) -> int:
    """Carry out the queued account changes that are due; returns how many were tried."""
    tried = 0
    while True:
        claimed, claimed_at = _claim(batch_size)
        if not claimed:
            return tried
        for account in claimed:
            try:
                _carry_out(account)
                error = None
            except ConnectorError as exc:
                error = exc
            except Exception as exc:  # noqa: BLE001 - a broken target must not stop the rest
                error = ConnectorError(f"{type(exc).__name__}: {exc}")
            _record(account, error, claimed_at)
        tried += len(claimed)
