"""The portal's allauth adapters: sign-up rules, refused sign-ins with their reason."""

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.adapter import get_adapter as get_account_adapter
from allauth.account.models import EmailAddress
from allauth.account.utils import user_email
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from django.contrib import messages
from django.shortcuts import redirect
from django.utils import translation

from governance.choices import AccountState, UserType
from governance.selectors.directory import sign_in_refusal_reason, signup_decision
from governance.services.directory import user_sign_up
from governance.services.errors import Refused
from portal.signup import primary_address_refusal


def _refuse(request, message: str, to: str = "account_login"):
    messages.error(request, message)
    raise ImmediateHttpResponse(redirect(to))


def _browser_language(request) -> str:
    """The language the browser asked for, if we have it; else "" (we do not know)."""
    if not request.headers.get("Accept-Language"):
        return ""
    return translation.get_language_from_request(request)


class AccountAdapter(DefaultAccountAdapter):
    def save_user(self, request, user, form, commit=True):
        user = super().save_user(request, user, form, commit=False)
        if not commit:
            return user
        via_microsoft = getattr(form, "sociallogin", None) is not None
        try:
            return user_sign_up(user=user, via_microsoft=via_microsoft,
                                display_name=form.cleaned_data.get("display_name") or "",
                                language=_browser_language(request))
        except Refused as refused:
            # The rules changed between the form's check and now (a policy was unpublished).
            _refuse(request, refused.message, to="account_signup")

    def confirm_email(self, request, email_address):
        # allauth makes a newly confirmed address primary when the account has no primary one
        # (people an administrator or the directory made have no address rows until they
        # visit the email page). The address they came with stays primary instead, unless the
        # new one may take its place (portal.signup.primary_address_refusal).
        user = email_address.user
        would_replace = not EmailAddress.objects.filter(user=user, primary=True).exists() \
            and primary_address_refusal(user, email_address.email)
        if would_replace:
            kept = EmailAddress.objects.filter(user=user, email__iexact=user.email) \
                .update(primary=True)
            if not kept:
                EmailAddress.objects.create(user=user, email=user.email, primary=True)
        return super().confirm_email(request, email_address)

    def pre_login(self, request, user, **kwargs):
        # Password, emailed code and Microsoft all pass here. A blocked guest is also inactive;
        # the account state is checked too so the two can never disagree in the person's favour.
        if user.is_active and (user.account_state != AccountState.ACTIVE
                               or user.user_type == UserType.SERVICE):
            from allauth.account.internal.stagekit import clear_login

            clear_login(request)
            return self.respond_user_inactive(request, user)
        return super().pre_login(request, user, **kwargs)

    def respond_user_inactive(self, request, user):
        # allauth only knows "inactive"; the person deserves to know why and what to do.
        messages.error(request, sign_in_refusal_reason(user))
        return super().respond_user_inactive(request, user)


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    """Sign-in with Microsoft: for members only."""

    def pre_social_login(self, request, sociallogin):
        if sociallogin.is_existing:
            user = sociallogin.user
        else:
            user = request.user if request.user.is_authenticated else None
        if user is not None and user.user_type != UserType.MEMBER:
            _refuse(request, "Sign-in with Microsoft is for our own staff. Sign in with your "
                             "email address instead.")

    def is_open_for_signup(self, request, sociallogin):
        decision = signup_decision(user_email(sociallogin.user) or "", via_microsoft=True)
        if not decision.allowed:
            _refuse(request, decision.reason)
        return True

    def save_user(self, request, sociallogin, form=None):
        user = sociallogin.user
        user.set_unusable_password()
        if form:
            get_account_adapter(request).save_user(request, user, form)
        else:
            try:
                user_sign_up(user=user, via_microsoft=True, language=_browser_language(request))
            except Refused as refused:
                _refuse(request, refused.message)
        sociallogin.save(request)
        return user
