"""Access packages: the Available, Active and Expired tabs, and a package's page."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect

from governance.models import AccessPackage
from governance.selectors.packages import (
    package_for_page,
    package_roles,
    packages_matching,
    packages_visible_to,
    request_options,
)
from governance.selectors.requests import assignments_active_for, assignments_expired_for
from governance.services.errors import Refused
from governance.services.requests import request_submit
from portal.forms import RequestForm
from portal.views.page import render_page

PAGE_SIZE = 20
TABS = {"available": "Available", "active": "Active", "expired": "Expired"}


@login_required
def package_list(request):
    tab = request.GET.get("tab", "available")
    if tab not in TABS:
        tab = "available"
    search = request.GET.get("q", "").strip()
    user = request.user
    if tab == "available":
        rows = packages_matching(packages_visible_to(user).select_related("catalog"), search)
    else:
        rows = assignments_active_for(user) if tab == "active" else assignments_expired_for(user)
        if search:
            rows = rows.filter(access_package__in=packages_matching(
                AccessPackage.objects.all(), search))
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    # htmx asks for the results alone while the person types in the search box.
    template = "portal/fragment_package_results.html" if request.headers.get("HX-Request") \
        else "portal/package_list.html"
    return render_page(request, "packages", template, {
        "tab": tab, "tabs": TABS, "search": search, "page": page})


@login_required
def package_detail(request, package_id: int):
    user = request.user
    package = package_for_page(user, package_id)
    if package is None:
        raise Http404("No such access package.")
    options = request_options(user, package)
    on_behalf = [policy for policy in package.policies.all()
                 if policy.enable_on_behalf_of_direct_reports]
    reports = list(user.direct_reports.filter(is_active=True).order_by("email")) \
        if on_behalf else []
    # Not for themselves, a manager may still ask for a direct report.
    policies = options.policies or (on_behalf if reports else [])
    form = None
    if policies:
        form = RequestForm(request.POST or None, policies=policies, reports=reports,
                           language=user.preferred_language or request.LANGUAGE_CODE)
    if request.method == "POST" and form is not None and form.is_valid():
        target = user.direct_reports.filter(pk=form.cleaned_data.get("target")).first() \
            if form.cleaned_data.get("target") else None
        policy_id = form.chosen_policy_id()
        try:
            request_submit(requestor=user, access_package_id=package.pk, policy_id=policy_id,
                           target=target, justification=form.cleaned_data["justification"],
                           answers=form.answers_for(policy_id),
                           start_at=form.cleaned_data.get("start_at"),
                           end_at=form.cleaned_data.get("end_at"))
        except Refused as refusal:
            form.add_refusal(refusal)
        else:
            messages.success(request, f"Your request for “{package}” was submitted.")
            return redirect("request_history")
    return render_page(request, "packages", "portal/package_detail.html", {
        "package": package, "roles": package_roles(package), "form": form,
        "refusal": None if policies else options.reason,
    }, status=400 if form is not None and form.errors else 200)
