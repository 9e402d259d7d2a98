"""Everything under /v1.0/: each module lists its own paths (relative to /v1.0/)."""

from django.urls import re_path

from . import (
    approvals,
    assignments,
    catalogs,
    directory,
    organizations,
    packages,
    policies,
    policy_requirements,
    requests,
    resources,
    reviews,
    tenant,
    user_links,
)
from .fallback import not_found

urlpatterns = [
    *catalogs.urlpatterns,
    *resources.urlpatterns,
    *directory.urlpatterns,
    *user_links.urlpatterns,
    *packages.urlpatterns,
    *policies.urlpatterns,
    *policy_requirements.urlpatterns,
    *requests.urlpatterns,
    *assignments.urlpatterns,
    *approvals.urlpatterns,
    *organizations.urlpatterns,
    *tenant.urlpatterns,
    *reviews.urlpatterns,
    # Last: any other path under /v1.0/ is a Graph-shaped 404, not Django's HTML page.
    re_path(r"^.*$", not_found),
]
