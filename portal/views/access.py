"""Active access: extend it, or remove it."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect

from governance.models import Assignment
from governance.selectors.directory import last_access_warning
from governance.selectors.requests import assignments_active_for
from governance.services.errors import Refused
from governance.services.requests import request_extend, request_remove
from portal.forms import RequestForm
from portal.views.page import render_page


def _own_active(request, assignment_id: int) -> Assignment:
    assignment = assignments_active_for(request.user).filter(pk=assignment_id).first()
    if assignment is None:
        raise Http404("No such access.")
    return assignment


@login_required
def extend(request, assignment_id: int):
    assignment = _own_active(request, assignment_id)
    if assignment.policy is None:
        raise Http404("This access cannot be extended.")
    form = RequestForm(request.POST or None, policies=[assignment.policy], extension=True,
                       language=request.user.preferred_language or request.LANGUAGE_CODE)
    if request.method == "POST" and form.is_valid():
        try:
            extension = request_extend(
                requestor=request.user, assignment_id=assignment.pk,
                justification=form.cleaned_data["justification"],
                answers=form.answers_for(assignment.policy_id),
                end_at=form.cleaned_data.get("end_at"))
        except Refused as refusal:
            form.add_refusal(refusal)
        else:
            if extension.state == "pendingApproval":
                messages.success(request, "Your extension was submitted for approval.")
            else:
                messages.success(request, f"“{assignment.access_package}” was extended.")
            return redirect("/access-packages/?tab=active")
    return render_page(request, "packages", "portal/access_extend.html",
                       {"assignment": assignment, "form": form},
                       status=400 if form.errors else 200)


@login_required
def remove(request, assignment_id: int):
    assignment = _own_active(request, assignment_id)
    if request.method == "POST":
        try:
            request_remove(actor=request.user, assignment_id=assignment.pk)
        except Refused as refusal:
            messages.error(request, refusal.message)
        else:
            messages.success(request, f"Your access to “{assignment.access_package}” was "
                                      "removed.")
        return redirect("/access-packages/?tab=active")
    return render_page(request, "packages", "portal/access_remove.html", {
        "assignment": assignment,
        "last_access_warning": last_access_warning(request.user, assignment)})
