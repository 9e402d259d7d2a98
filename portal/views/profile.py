"""Profile: the person's name and email, and their own API tokens (create, see, revoke).

A new token is shown once, in the answer to the POST that made it, and never stored in the
session or a message: a later page load cannot show it again.

Creating a token asks again for the password (or a code) unless it was given in the last few
minutes (allauth's reauthentication); afterwards the person is back at the form, with what
they had typed. People with a strong role first need two-step verification.
"""

from allauth.account.adapter import get_adapter
from allauth.account.internal.flows.reauthentication import is_reauthentication_required
from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.cache import never_cache

from governance import clock
from governance.selectors.api_tokens import token_rows_of
from governance.selectors.sign_in import lacks_two_step
from governance.services.api_tokens import (
    PERSON_KIND,
    TOKEN_NAME_MAX,
    personal_token_create,
    personal_token_expiry,
    personal_token_revoke,
)
from governance.services.errors import NotFound, RefusalFormMixin, Refused
from portal.views.page import render_page
from portal.views.two_step import lead_to_setup, setup_url

FORM_ANCHOR = "#create-token"
TOKENS_NEED_TWO_STEP = (
    "Your role decides who gets access, so your API tokens need two-step verification "
    "first. Set up an authenticator app; you come back to your profile after.")
CONFIRM_FIRST = "To create an API token, confirm it is you first."


class TokenForm(RefusalFormMixin, forms.Form):
    name = forms.CharField(label="Token name", max_length=TOKEN_NAME_MAX,
                           help_text="What the token is for, such as “Weekly report script”.",
                           widget=forms.TextInput(attrs={"autocomplete": "off"}))
    # Its limits are the service's (read from settings per request), so any door shares them.
    expires_in_days = forms.IntegerField(
        label="Expires after (days)", required=False,
        error_messages={"invalid": "Enter a whole number of days, such as 90."})

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        lifetime = self.fields["expires_in_days"]
        lifetime.initial = settings.API_TOKEN_DEFAULT_DAYS
        lifetime.help_text = (f"From 1 to {settings.API_TOKEN_MAX_DAYS} days. Left empty, the "
                              f"token lasts {settings.API_TOKEN_DEFAULT_DAYS} days.")

    def clean_expires_in_days(self):
        days = self.cleaned_data["expires_in_days"]
        try:
            personal_token_expiry(now=clock.now(), lifetime_days=days)
        except Refused as refusal:
            raise forms.ValidationError(refusal.message) from None
        return days

    def add_refusal(self, refusal: Refused) -> None:
        if getattr(refusal, "field", None) == "expiresAt":
            self.add_error("expires_in_days", refusal.message)
        else:
            super().add_refusal(refusal)


def _revoke(request):
    raw = request.POST.get("revoke", "")
    if not raw.isdigit() or len(raw) > 18:
        raise Http404("No such token.")
    try:
        token = personal_token_revoke(user=request.user, token_id=int(raw))
    except NotFound:
        raise Http404("No such token.") from None
    messages.success(request, f"The token “{token.name}” was revoked; it no longer works.")
    return redirect("profile")


def _back_to_the_form(form: TokenForm) -> str:
    """The profile with the form filled in as the person left it (nothing secret in it)."""
    typed = {name: form.data.get(name, "") for name in form.fields}
    return f"{reverse('profile')}?{urlencode(typed)}{FORM_ANCHOR}"


def _confirm_it_is_you(request, form: TokenForm):
    """To allauth's reauthentication (its first way for this person), then back to the form;
    None, with the reason on the form, when the person has no way to confirm."""
    methods = get_adapter(request).get_reauthentication_methods(request.user)
    if not methods:
        form.add_error(None, "Your account has no password, verified email address or "
                             "authenticator app to confirm it is you with. Set up two-step "
                             "verification, then try again.")
        return None
    messages.info(request, CONFIRM_FIRST)
    return redirect(f"{methods[0]['url']}?{urlencode({'next': _back_to_the_form(form)})}")


def _prefilled(request) -> TokenForm:
    typed = {name: request.GET[name] for name in TokenForm.base_fields if request.GET.get(name)}
    return TokenForm(initial=typed)


def _create(request, form: TokenForm) -> str | None:
    """The new token, or None with the refusal on the form."""
    try:
        created, new_token = personal_token_create(
            user=request.user, name=form.cleaned_data["name"],
            lifetime_days=form.cleaned_data["expires_in_days"])
    except Refused as refusal:
        form.add_refusal(refusal)
        return None
    messages.success(request, f"The token “{created.name}” was created.")
    return new_token


@never_cache
@login_required
def profile(request):
    if request.method == "POST" and "revoke" in request.POST:
        return _revoke(request)
    new_token = None
    if request.method != "POST":
        form = _prefilled(request)
    elif lacks_two_step(request.user):
        return lead_to_setup(request, TOKENS_NEED_TWO_STEP,
                             back=reverse("profile") + FORM_ANCHOR)
    else:
        form = TokenForm(request.POST)
        if form.is_valid():
            if is_reauthentication_required(request, app=""):
                if confirm := _confirm_it_is_you(request, form):
                    return confirm
            elif new_token := _create(request, form):
                form = TokenForm()
    tokens = token_rows_of(request.user)
    lacking = lacks_two_step(request.user)
    return render_page(request, "profile", "portal/profile.html", {
        "form": form, "tokens": tokens, "new_token": new_token, "kind": PERSON_KIND,
        "api_root": request.build_absolute_uri("/v1.0/"),
        "needs_two_step_setup": lacking,
        "two_step_setup_url": setup_url(reverse("profile") + FORM_ANCHOR) if lacking else "",
    }, status=400 if form.errors else 200)
