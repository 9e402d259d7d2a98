"""Request history, and cancelling a request that is still waiting."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from governance.selectors.deliveries import annotate_delivery_lines, with_deliveries
from governance.selectors.requests import requests_of
from governance.selectors.visibility import own_requests
from governance.services.errors import NotAllowed, NotFound, Refused
from governance.services.requests import request_cancel
from portal.views.page import render_page

PAGE_SIZE = 20


@login_required
def request_history(request):
    history = with_deliveries(requests_of(request.user))
    page = Paginator(history, PAGE_SIZE).get_page(request.GET.get("page"))
    annotate_delivery_lines(page, request.user)
    return render_page(request, "requests", "portal/request_history.html", {"page": page})


@login_required
@require_POST
def request_cancel_view(request, request_id: int):
    if not own_requests(request.user).filter(pk=request_id).exists():
        raise Http404("No such request.")
    try:
        cancelled = request_cancel(actor=request.user, request_id=request_id)
    except (NotFound, NotAllowed):
        raise Http404("No such request.") from None
    except Refused as refusal:
        messages.error(request, refusal.message)
    else:
        messages.success(request, f"Your request for “{cancelled.access_package}” was canceled.")
    return redirect("request_history")
