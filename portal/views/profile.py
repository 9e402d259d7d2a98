"""Profile: the person's name and email, and their own API tokens (create, see, revoke).

A new token is shown once, in the answer to the POST that made it, and never stored in the
session or a message: a later page load cannot show it again.
"""

from datetime import timedelta

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect
from django.views.decorators.cache import never_cache

from governance import clock
from governance.selectors.api_tokens import token_rows_of
from governance.services.api_tokens import (
    PERSON_KIND,
    TOKEN_NAME_MAX,
    personal_token_create,
    personal_token_revoke,
)
from governance.services.errors import NotFound, RefusalFormMixin, Refused
from portal.views.page import render_page

EXPIRY_DAYS_MAX = 366


class TokenForm(RefusalFormMixin, forms.Form):
    name = forms.CharField(label="Token name", max_length=TOKEN_NAME_MAX,
                           help_text="What the token is for, such as “Weekly report script”.",
                           widget=forms.TextInput(attrs={"autocomplete": "off"}))
    expires_in_days = forms.IntegerField(
        label="Expires after (days)", required=False, min_value=1, max_value=EXPIRY_DAYS_MAX,
        help_text=f"From 1 to {EXPIRY_DAYS_MAX} days. Leave empty for a token that does not "
                  "expire until you revoke it.",
        error_messages={"invalid": "Enter a whole number of days, such as 90.",
                        "min_value": "A token lasts at least 1 day.",
                        "max_value": f"A token lasts at most {EXPIRY_DAYS_MAX} days."})


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


@never_cache
@login_required
def profile(request):
    if request.method == "POST" and "revoke" in request.POST:
        return _revoke(request)
    form = TokenForm(request.POST or None)
    new_token = None
    if request.method == "POST" and form.is_valid():
        days = form.cleaned_data["expires_in_days"]
        try:
            created, new_token = personal_token_create(
                user=request.user, name=form.cleaned_data["name"],
                expires_at=clock.now() + timedelta(days=days) if days else None)
        except Refused as refusal:
            form.add_refusal(refusal)
        else:
            form = TokenForm()
            messages.success(request, f"The token “{created.name}” was created.")
    tokens = token_rows_of(request.user)
    return render_page(request, "profile", "portal/profile.html", {
        "form": form, "tokens": tokens, "new_token": new_token, "kind": PERSON_KIND,
        "api_root": request.build_absolute_uri("/v1.0/"),
    }, status=400 if form.errors else 200)
