"""allauth forms with the portal's rules: who may sign up, which addresses an account may add
or make its primary one, and sign-in codes for blocked people.

An address is added only if signing up with it would be allowed. The primary address is the one
the account's standing came from (member, or guest of an organisation), so another one becomes
primary only when signing up with it would give that same standing: a guest cannot move to a
private address and keep their organisation. To change standing, one signs up again.
"""

from allauth.account import forms as allauth_forms
from django import forms
from django.core.exceptions import ValidationError

from governance.choices import UserType
from governance.models import User
from governance.selectors.directory import email_domain, signup_decision


class SignupForm(allauth_forms.SignupForm):
    display_name = forms.CharField(
        label="Your name", max_length=200, required=False,
        help_text="As approvers will see it, for instance “Ana Díaz”.",
        widget=forms.TextInput(attrs={"autocomplete": "name"}))

    field_order = ["display_name", "email", "password1", "password2"]

    def clean_email(self) -> str:
        email = super().clean_email()
        decision = signup_decision(email)
        if not decision.allowed:
            raise ValidationError(decision.reason, code="signup_refused")
        return email


def address_add_refusal(email: str) -> str | None:
    """Why `email` may not be added to an account, or None: it must be one that could sign up."""
    decision = signup_decision(email)
    if decision.allowed:
        return None
    return f"You can add only an address you could sign up with. {decision.reason}"


def _standing(user: User) -> str:
    if user.user_type == UserType.MEMBER:
        return "a member of our organisation"
    if user.connected_organization is not None:
        return f"a guest of {user.connected_organization}"
    return "a guest"


def primary_address_refusal(user: User, email: str) -> str | None:
    """Why `email` may not become the person's primary address, or None."""
    if email_domain(email) == email_domain(user.email):
        return None
    decision = signup_decision(email)
    if (decision.allowed and decision.user_type == user.user_type
            and not decision.propose_organization
            and decision.organization == user.connected_organization):
        return None
    return (f"“{email}” cannot be your primary address: this account is {_standing(user)}, and "
            "that address does not belong there. Keep an address that does as your primary "
            f"one, or sign up with “{email}” for an account of its own.")


class AddEmailForm(allauth_forms.AddEmailForm):
    def clean_email(self) -> str:
        email = super().clean_email()
        refusal = address_add_refusal(email)
        if refusal:
            raise ValidationError(refusal, code="address_refused")
        return email


class RequestLoginCodeForm(allauth_forms.RequestLoginCodeForm):
    def clean_email(self) -> str:
        email = super().clean_email()
        if email and self._user is None:
            # allauth only sends codes to active accounts. A blocked or deleted person gets
            # the code too, and once it proves the mailbox is theirs, the sign-in is refused
            # with the reason (AccountAdapter.pre_login); others learn nothing.
            self._user = User.objects.filter(email__iexact=email, is_active=False).first()
        return email
