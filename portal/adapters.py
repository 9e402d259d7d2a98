"""The portal's allauth adapters: sign-up rules, refused sign-ins with their reason."""

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.adapter import get_adapter as get_account_adapter
from allauth.account.models import EmailAddress
from allauth.account.utils import user_email
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from allauth.socialaccount.providers.base import AuthProcess
from django.contrib import messages
from django.db import transaction
from django.shortcuts import redirect
from django.utils import translation

from governance.choices import UserType
from governance.models import User
from governance.selectors.directory import (
    SIGN_UP_MICROSOFT_MEMBERS_ONLY,
    sign_in_refusal_reason,
    signup_decision,
)
from governance.selectors.sign_in import may_sign_in, people_signing_in_as
from governance.services.directory import user_sign_up
from governance.services.errors import Refused
from governance.services.sign_in import person_sign_in_connect
from portal.signup import primary_address_refusal

SIGN_IN_AMBIGUOUS = ("Your sign-in names more than one person in our directory, so we cannot "
                     "tell which one is you. Ask your administrator to correct it.")


def _refuse(request, message: str, to: str = "account_login"):
    messages.error(request, message)
    raise ImmediateHttpResponse(redirect(to))


def _browser_language(request) -> str:
    """The language the browser asked for, if we have it; else "" (we do not know)."""
    if not request.headers.get("Accept-Language"):
        return ""
    return translation.get_language_from_request(request)


def _provider_id(sociallogin) -> str:
    """"microsoft" or the OpenID Connect app's id ("sso"), for the audit log."""
    return sociallogin.account.provider if sociallogin is not None else ""


class AccountAdapter(DefaultAccountAdapter):
    def save_user(self, request, user, form, commit=True):
        user = super().save_user(request, user, form, commit=False)
        if not commit:
            return user
        sociallogin = getattr(form, "sociallogin", None)
        try:
            return user_sign_up(user=user, via_microsoft=sociallogin is not None,
                                provider=_provider_id(sociallogin),
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
        # Password, emailed code, Microsoft and single sign-on all pass here. A blocked guest
        # is also inactive; the account state is checked too so the two can never disagree in
        # the person's favour.
        if not may_sign_in(user):
            from allauth.account.internal.stagekit import clear_login

            clear_login(request)
            return self.respond_user_inactive(request, user)
        return super().pre_login(request, user, **kwargs)

    def respond_user_inactive(self, request, user):
        # allauth only knows "inactive"; the person deserves to know why and what to do.
        messages.error(request, sign_in_refusal_reason(user))
        return super().respond_user_inactive(request, user)


def _claim(extra_data: dict, name: str) -> str:
    """A claim of the sign-in: the provider's userinfo, else its ID token (Entra's `oid` is
    only there), else the profile a provider such as Microsoft returns as it is."""
    for claims in (extra_data.get("userinfo"), extra_data.get("id_token"), extra_data):
        if isinstance(claims, dict) and claims.get(name) not in (None, ""):
            return str(claims[name])
    return ""


def _members_only(sociallogin) -> str:
    way = "Sign-in with Microsoft" if sociallogin.account.provider == "microsoft" \
        else "Single sign-on"
    return f"{way} is for our own staff. Sign in with your email address instead."


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    """Sign-in with Microsoft and single sign-on (OpenID Connect): for members only.

    A person the directory already holds (provisioned, with no password and nothing linked
    yet) is signed in as themselves: the provider's app settings say how they are found,
    "match_claim" `email` (an address the provider verified) or `external_id` (the claim
    "external_id_claim", `sub` by default, against their SCIM externalId). Anybody else
    follows the sign-up rules.
    """

    def pre_social_login(self, request, sociallogin):
        found = None
        if sociallogin.is_existing:
            user = sociallogin.user
        elif sociallogin.state.get("process") == AuthProcess.CONNECT:
            user = request.user if request.user.is_authenticated else None
        else:
            found, matched_by, address = self._directory_person(request, sociallogin)
            user = found
        if user is None:
            return  # somebody new: is_open_for_signup and save_user apply the sign-up rules
        if not may_sign_in(user):
            # The reason, on the page allauth shows inactive accounts (respond_user_inactive).
            raise ImmediateHttpResponse(
                get_account_adapter(request).respond_user_inactive(request, user))
        if user.user_type != UserType.MEMBER:
            _refuse(request, _members_only(sociallogin))
        if found is not None:
            with transaction.atomic():
                try:
                    found = person_sign_in_connect(
                        person=found, provider=sociallogin.account.provider,
                        uid=sociallogin.account.uid, matched_by=matched_by,
                        address=address or found.email)
                except Refused as refused:  # they left between the look-up and the lock
                    _refuse(request, refused.message, to="account_inactive")
                # The row as the service left it: connect() saves the user it is given.
                sociallogin.connect(request, found)

    def _directory_person(self, request, sociallogin) -> tuple[User | None, str, str]:
        """(the person the sign-in names, how it named them, the address it vouched for)."""
        app_settings = sociallogin.provider.app.settings or {}
        address = ""
        if app_settings.get("match_claim", "email") == "external_id":
            matched_by = "external_id"
            claim = app_settings.get("external_id_claim") or "sub"
            people = people_signing_in_as(
                external_id=_claim(sociallogin.account.extra_data, claim))
        else:
            matched_by = "email"
            verified = [found.email for found in sociallogin.email_addresses if found.verified]
            address = verified[0] if verified else ""
            people = people_signing_in_as(email=address)
        if len(people) > 1:
            _refuse(request, SIGN_IN_AMBIGUOUS)
        return (people[0] if people else None), matched_by, address

    def is_open_for_signup(self, request, sociallogin):
        # Single sign-on counts as Microsoft does: it makes members only.
        decision = signup_decision(user_email(sociallogin.user) or "", via_microsoft=True)
        if not decision.allowed:
            reason = decision.reason
            if reason == SIGN_UP_MICROSOFT_MEMBERS_ONLY:
                reason = _members_only(sociallogin)
            _refuse(request, reason)
        return True

    def save_user(self, request, sociallogin, form=None):
        user = sociallogin.user
        user.set_unusable_password()
        if form:
            get_account_adapter(request).save_user(request, user, form)
        else:
            try:
                user_sign_up(user=user, via_microsoft=True, provider=_provider_id(sociallogin),
                             language=_browser_language(request))
            except Refused as refused:
                _refuse(request, refused.message)
        sociallogin.save(request)
        return user
