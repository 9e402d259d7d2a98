"""The delegated admin site: one site for global administrators and every catalog role.

Django's staff flag and model permissions play no part: who sees what is decided by
governance.selectors.permissions, the same functions the services ask.
"""

from functools import wraps

from django.contrib import admin
from django.contrib.auth.views import redirect_to_login
from django.shortcuts import redirect
from django.urls import reverse

from governance.admin.dashboard import dashboard_urls
from governance.admin.why_not import why_not_urls
from governance.selectors.dashboard import catalogs_with_dashboard, catalogs_without_owner
from governance.selectors.permissions import can_use_admin
from governance.selectors.sign_in import lacks_two_step
from portal.views.two_step import lead_to_setup

ADMIN_NEEDS_TWO_STEP = (
    "The admin asks for two-step verification: your role decides who gets access, so a "
    "password alone is not enough. Set up an authenticator app; you come back here after.")


class PortalAdminSite(admin.AdminSite):
    site_header = "My Access administration"
    site_title = "My Access administration"
    index_title = "Catalogs, packages, assignments"
    index_template = "admin/governance/index.html"
    site_url = "/"

    def get_urls(self):
        # The site's own pages before the models': each catalog's dashboard, "why not?".
        return dashboard_urls(self) + why_not_urls(self) + super().get_urls()

    def index(self, request, extra_context=None):
        extra_context = {"dashboard_catalogs": catalogs_with_dashboard(request.user),
                         "catalogs_without_owner": catalogs_without_owner(request.user),
                         **(extra_context or {})}
        return super().index(request, extra_context)

    def has_permission(self, request):
        return request.user.is_active and can_use_admin(request.user)

    def admin_view(self, view, cacheable=False):
        # Inside Django's check, so people without a role are still sent to sign in; every
        # admin URL (index, dashboards, model pages, their extra views) is made here.
        @wraps(view)
        def two_step_first(request, *args, **kwargs):
            if (lacks_two_step(request.user)
                    and request.path != reverse("admin:logout", current_app=self.name)):
                return lead_to_setup(request, ADMIN_NEEDS_TWO_STEP)
            return view(request, *args, **kwargs)

        return super().admin_view(two_step_first, cacheable)

    def login(self, request, extra_context=None):
        # One sign-in for the whole portal (allauth: password, emailed code, TOTP).
        return redirect_to_login(request.get_full_path())

    def password_change(self, request, extra_context=None):
        return redirect("account_change_password")

    def password_change_done(self, request, extra_context=None):
        return redirect("account_change_password")


admin_site = PortalAdminSite(name="admin")
