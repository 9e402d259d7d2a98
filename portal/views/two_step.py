"""Leading people with a strong role to two-step verification, and back to where they were.

allauth's own activation page is used; it only learns to return to `next` afterwards. Its
form posts to its bare URL, so `next` is remembered in the session between the two requests.
"""

from allauth.account.utils import get_next_redirect_url
from allauth.mfa.totp.views import ActivateTOTPView
from django.contrib import messages
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.http import urlencode

NEXT_SESSION_KEY = "portal.two_step.next"
RECOVERY_CODES_NOTE = ("Your recovery codes are ready under “Two-step verification”: keep them "
                       "somewhere safe, they let you in if you lose your phone.")


def setup_url(back: str) -> str:
    return f"{reverse('mfa_activate_totp')}?{urlencode({'next': back})}"


def lead_to_setup(request, why: str, back: str | None = None) -> HttpResponseRedirect:
    """Off to the authenticator app's setup, saying `why`; afterwards back to `back` (by
    default the page asked for)."""
    messages.warning(request, why)
    return HttpResponseRedirect(setup_url(back or request.get_full_path()))


class ActivateTotpThenReturn(ActivateTOTPView):
    def get(self, request, *args, **kwargs):
        back = get_next_redirect_url(request)
        if back:
            request.session[NEXT_SESSION_KEY] = back
        else:
            # Opened from the menu: an abandoned earlier visit must not decide where to go.
            request.session.pop(NEXT_SESSION_KEY, None)
        return super().get(request, *args, **kwargs)

    def get_success_url(self) -> str:
        back = self.request.session.pop(NEXT_SESSION_KEY, None)
        if not back:
            return super().get_success_url()
        if self.did_generate_recovery_codes:
            messages.info(self.request, RECOVERY_CODES_NOTE)
        return back


activate_totp = ActivateTotpThenReturn.as_view()
