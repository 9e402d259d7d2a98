"""The personal link in an approver's email: it shows, and only a POST by its approver acts.

Mail filters open every link they see, so a GET never changes anything. A link that was
altered, has expired, was already used, or was forwarded to someone else shows one page
saying which, and changes nothing.
"""

from urllib.parse import urlencode

from django.contrib.auth.views import redirect_to_login
from django.urls import reverse

from governance.security.approval_links import LinkProblem, approval_link_check
from governance.services.approvals import stage_outcome_message
from portal.views.approvals import decision_page
from portal.views.page import render_page

STATUS = {LinkProblem.ALTERED: 400, LinkProblem.FORWARDED: 403, LinkProblem.EXPIRED: 410,
          LinkProblem.DECIDED: 409, LinkProblem.MOVED: 409}


def _masked(address: str) -> str:
    """a***@contoso.example: enough for the approver to recognise, little for anyone else."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}"


def approval_link(request, token: str):
    user = request.user if request.user.is_authenticated else None
    check = approval_link_check(token, user)
    if check.problem is not None:
        decided = ""
        if check.problem == LinkProblem.DECIDED and user is not None:
            decided = stage_outcome_message(check.stage, check.stage.request)
        # To whom it moved, like who decided, only for the approver signed in.
        moved = check.moved if user is not None else None
        return render_page(request, "approvals", "portal/approval_link_refused.html",
                           {"check": check, "problem": check.problem, "decided": decided,
                            "moved": moved}, status=STATUS[check.problem])
    if user is None:
        if request.method == "POST":
            return redirect_to_login(request.get_full_path())
        next_query = "?" + urlencode({"next": request.path})
        return render_page(request, "approvals", "portal/approval_link_sign_in.html", {
            "check": check, "address": _masked(check.approver.email),
            "code_url": reverse("account_request_login_code") + next_query,
            "password_url": reverse("account_login") + next_query})
    return decision_page(request, check.stage)
