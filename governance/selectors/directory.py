"""Read-side questions about people."""

from django.utils.formats import date_format

from governance.choices import AccountState
from governance.models import User


def sign_in_refusal_reason(user: User) -> str:
    if user.account_state == AccountState.DELETED:
        return "This account was deleted when its last access package ended."
    if user.account_state == AccountState.BLOCKED:
        reason = (
            "Sign-in is blocked because your last access package ended on "
            f"{date_format(user.blocked_at, 'DATETIME_FORMAT')}. "
            "Ask your sponsor to assign you an access package to sign in again."
        )
        if user.delete_due_at:
            reason += (f" Your account will be deleted on "
                       f"{date_format(user.delete_due_at, 'DATE_FORMAT')}.")
        return reason
    return "This account is disabled. Contact your administrator."
