"""The delegated admin site: one site for global administrators and every catalog role.

Django's staff flag and model permissions play no part: who sees what is decided by
governance.selectors.permissions, the same functions the services ask.
"""

from django.contrib import admin
from django.contrib.auth.views import redirect_to_login
from django.shortcuts import redirect

from governance.admin.dashboard import dashboard_urls
from governance.selectors.dashboard import catalogs_with_dashboard
from governance.selectors.permissions import can_use_admin


class PortalAdminSite(admin.AdminSite):
    site_header = "My Access administration"
    site_title = "My Access administration"
    index_title = "Catalogs, packages, assignments"
    index_template = "admin/governance/index.html"
    site_url = "/"

    def get_urls(self):
        # The site's own pages before the models': each catalog's dashboard.
        return dashboard_urls(self) + super().get_urls()

    def index(self, request, extra_context=None):
        extra_context = {"dashboard_catalogs": catalogs_with_dashboard(request.user),
                         **(extra_context or {})}
        return super().index(request, extra_context)

    def has_permission(self, request):
        return request.user.is_active and can_use_admin(request.user)

    def login(self, request, extra_context=None):
        # One sign-in for the whole portal (allauth: password, emailed code, TOTP).
        return redirect_to_login(request.get_full_path())

    def password_change(self, request, extra_context=None):
        return redirect("account_change_password")

    def password_change_done(self, request, extra_context=None):
        return redirect("account_change_password")


admin_site = PortalAdminSite(name="admin")
