"""Approvals: what waits for this person's decision, and what they decided."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect

from governance.choices import Decision
from governance.security.approval_links import LinkProblem
from governance.selectors.approval_moves import approval_moved_from
from governance.selectors.requests import (
    approval_for_page,
    approvals_decided_by,
    approvals_pending_for,
)
from governance.services.approvals import stage_decide
from governance.services.errors import Refused
from portal.forms import DecisionForm
from portal.views.page import render_page

PAGE_SIZE = 20
TABS = {"pending": "Pending", "history": "History"}


@login_required
def approval_list(request):
    tab = request.GET.get("tab") if request.GET.get("tab") in TABS else "pending"
    rows = approvals_pending_for(request.user) if tab == "pending" \
        else approvals_decided_by(request.user)
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    return render_page(request, "approvals", "portal/approval_list.html",
                       {"tab": tab, "tabs": TABS, "page": page})


@login_required
def approval_detail(request, stage_id: int):
    stage = approval_for_page(request.user, stage_id)
    if stage is None:
        moved = approval_moved_from(request.user.pk, stage_id)
        if moved is None:
            raise Http404("No such approval.")
        return render_page(request, "approvals", "portal/approval_link_refused.html",
                           {"problem": LinkProblem.MOVED, "moved": moved}, status=409)
    return decision_page(request, stage)


def decision_page(request, stage):
    """The request's facts with Approve, Deny and a Justification box; only a POST decides.
    Shared by the Approvals page and the emailed links."""
    form = DecisionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        decision = Decision.APPROVE if "approve" in request.POST else Decision.DENY
        try:
            stage_decide(stage_id=stage.pk, approver=request.user, decision=decision,
                         justification=form.cleaned_data["justification"])
        except Refused as refusal:
            form.add_refusal(refusal)
        else:
            verb = "approved" if decision == Decision.APPROVE else "denied"
            messages.success(request, f"You {verb} {stage.request.target}’s request for "
                                      f"“{stage.request.access_package}”.")
            return redirect("approval_list")
    return render_page(request, "approvals", "portal/approval_detail.html",
                       {"stage": stage, "form": form}, status=400 if form.errors else 200)
