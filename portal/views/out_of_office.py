"""Out of office: name a delegate for a range of days, see and cancel one's periods."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect
from django.utils.formats import date_format

from governance import clock
from governance.choices import UserType
from governance.selectors.delegations import delegating_to, delegation_days, delegations_of
from governance.services.delegations import delegation_cancel, delegation_set
from governance.services.errors import NotFound, Refused
from portal.forms_delegation import DelegationForm
from portal.views.page import render_page


def _cancel(request):
    try:
        delegation_id = int(request.POST.get("cancel", ""))
    except ValueError:
        delegation_id = 0
    if not 0 < delegation_id < 2**63:  # beyond what the database can hold, it is not there
        raise Http404("No such out-of-office period.")
    try:
        ended = delegation_cancel(approver=request.user, delegation_id=delegation_id)
    except NotFound:
        raise Http404("No such out-of-office period.") from None
    except Refused as refusal:
        messages.error(request, refusal.message)
    else:
        messages.success(request, "Your out-of-office period was canceled." if ended is None
                         else "Your out-of-office period has ended.")
    return redirect("out_of_office")


@login_required
def out_of_office(request):
    # Only members stand in for each other; the page would also tell a guest which
    # addresses belong to members.
    if request.user.user_type != UserType.MEMBER:
        raise Http404("Out of office is for members of the organization.")
    if request.method == "POST" and "cancel" in request.POST:
        return _cancel(request)
    form = DelegationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            delegation = delegation_set(approver=request.user, **form.cleaned_data)
        except Refused as refusal:
            form.add_refusal(refusal)
        else:
            first, last = delegation_days(delegation, request.user)
            messages.success(request, f"From {date_format(first, 'DATE_FORMAT')} to "
                                      f"{date_format(last, 'DATE_FORMAT')}, new approvals "
                                      f"also go to {delegation.delegate}.")
            return redirect("out_of_office")
    now = clock.now()
    periods = []
    for delegation in delegations_of(request.user):
        first, last = delegation_days(delegation, request.user)
        periods.append({"delegation": delegation, "first": first, "last": last,
                        "current": delegation.starts_at <= now})
    standing_in = [(delegation, delegation_days(delegation, delegation.approver)[1])
                   for delegation in delegating_to(request.user)]
    return render_page(request, "approvals", "portal/out_of_office.html",
                       {"form": form, "periods": periods, "standing_in": standing_in},
                       status=400 if form.errors else 200)
