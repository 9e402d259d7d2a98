"""Read side of API tokens: a person's own tokens, as their profile page lists them."""

from dataclasses import dataclass

from django.db.models import QuerySet

from governance import clock
from governance.models import PersonalToken, User


@dataclass(frozen=True)
class TokenRow:
    token: PersonalToken
    state: str  # "Active", "Expired" or "Revoked"


def token_state(token: PersonalToken, now) -> str:
    if token.revoked_at is not None:
        return "Revoked"
    if token.expires_at is not None and token.expires_at <= now:
        return "Expired"
    return "Active"


def tokens_of(user: User) -> QuerySet[PersonalToken]:
    """Only `user`'s own tokens, newest first (nobody sees another person's)."""
    return PersonalToken.objects.filter(user=user).order_by("-created_at", "-id")


def token_rows_of(user: User) -> list[TokenRow]:
    now = clock.now()
    return [TokenRow(token, token_state(token, now)) for token in tokens_of(user)]
