"""My Access pages. They read through selectors and write through services only."""

from django.contrib.auth.decorators import login_required

from governance.selectors.packages import packages_visible_to
from governance.selectors.requests import (
    approvals_pending_for,
    assignments_active_for,
    requests_of,
)
from governance.selectors.reviews import reviews_for_reviewer
from portal.views.page import render_page

RECENT = 10


@login_required
def overview(request):
    user = request.user
    return render_page(request, "overview", "portal/overview.html", {
        "approvals": approvals_pending_for(user)[:RECENT],
        "reviews": reviews_for_reviewer(user)[:RECENT],
        "requests": requests_of(user)[:RECENT],
        "assignments": assignments_active_for(user)[:RECENT],
        "packages": packages_visible_to(user).select_related("catalog")[:RECENT],
    })
