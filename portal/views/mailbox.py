"""The demo's mailbox page: only with DEBUG on, so that one browser can play every role."""

from django.conf import settings
from django.http import Http404

from portal.mailbox import mailbox_letter, mailbox_letters
from portal.views.page import render_page


def _demo_only():
    if not settings.DEBUG:
        raise Http404("The mailbox exists only in the demo (DEBUG on).")


def mailbox(request):
    _demo_only()
    return render_page(request, "mailbox", "portal/mailbox.html",
                       {"letters": mailbox_letters()})


def mailbox_message(request, key: str):
    _demo_only()
    letter = mailbox_letter(key)
    if letter is None:
        raise Http404("No such email.")
    return render_page(request, "mailbox", "portal/mailbox_message.html", {"letter": letter})
