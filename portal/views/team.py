"""Manage team: a manager sees and removes the direct reports' access."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from governance.selectors.requests import team_assignments_for
from governance.services.errors import Refused
from governance.services.requests import request_remove
from portal.views.page import render_page


@login_required
def team(request):
    return render_page(request, "team", "portal/team.html",
                       {"assignments": team_assignments_for(request.user)})


@login_required
@require_POST
def team_remove(request, assignment_id: int):
    assignment = team_assignments_for(request.user).filter(pk=assignment_id).first()
    if assignment is None:
        raise Http404("No such access.")
    try:
        request_remove(actor=request.user, assignment_id=assignment.pk, as_manager=True)
    except Refused as refusal:
        messages.error(request, refusal.message)
    else:
        messages.success(request, f"{assignment.target}’s access to “{assignment.access_package}”"
                                  " was removed.")
    return redirect("team")
