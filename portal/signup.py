"""allauth forms with the portal's rules: who may sign up, and sign-in codes for blocked people."""

from allauth.account import forms as allauth_forms
from django import forms
from django.core.exceptions import ValidationError

from governance.models import User
from governance.selectors.directory import signup_decision


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


class RequestLoginCodeForm(allauth_forms.RequestLoginCodeForm):
    def clean_email(self) -> str:
        email = super().clean_email()
        if email and self._user is None:
            # allauth only sends codes to active accounts. A blocked or deleted person gets
            # the code too, and once it proves the mailbox is theirs, the sign-in is refused
            # with the reason (AccountAdapter.pre_login); others learn nothing.
            self._user = User.objects.filter(email__iexact=email, is_active=False).first()
        return email
