from django.urls import include, path

from governance.admin import admin_site
from governance.api import docs as api_docs
from portal.views import (
    access,
    approval_link,
    approvals,
    email_addresses,
    extension_callback,
    mailbox,
    overview,
    packages,
    profile,
    requests,
    reviews,
    team,
    two_step,
)
from portal.views.out_of_office import out_of_office as out_of_office_page

urlpatterns = [
    path("", overview.overview, name="overview"),
    path("access-packages/", packages.package_list, name="package_list"),
    path("access-packages/<int:package_id>/", packages.package_detail, name="package_detail"),
    path("requests/", requests.request_history, name="request_history"),
    path("requests/<int:request_id>/cancel/", requests.request_cancel_view,
         name="request_cancel"),
    path("access/<int:assignment_id>/extend/", access.extend, name="access_extend"),
    path("access/<int:assignment_id>/remove/", access.remove, name="access_remove"),
    path("approvals/", approvals.approval_list, name="approval_list"),
    path("approvals/<int:stage_id>/", approvals.approval_detail, name="approval_detail"),
    path("approvals/out-of-office/", out_of_office_page, name="out_of_office"),
    path("approvals/link/<str:token>/", approval_link.approval_link, name="approval_link"),
    path("reviews/", reviews.review_list, name="reviews"),
    path("reviews/<int:review_id>/", reviews.review_detail, name="review_detail"),
    path("reviews/<int:review_id>/decisions/<int:decision_id>/", reviews.review_decide,
         name="review_decide"),
    path("reviews/<int:review_id>/accept/", reviews.review_accept, name="review_accept"),
    path("team/", team.team, name="team"),
    path("team/<int:assignment_id>/remove/", team.team_remove, name="team_remove"),
    path("extensions/callback/<str:token>/", extension_callback.extension_callback,
         name="extension_callback"),
    path("mailbox/", mailbox.mailbox, name="mailbox"),
    path("mailbox/<str:key>/", mailbox.mailbox_message, name="mailbox_message"),
    path("profile/", profile.profile, name="profile"),
    path("api/openapi.json", api_docs.openapi_document, name="api_openapi"),
    path("api/docs/", api_docs.docs_page, name="api_docs"),
    path("v1.0/", include("governance.api.urls")),
    path("scim/v2/", include("governance.scim.urls")),
    # allauth's TOTP activation, returning to `next` afterwards; before allauth's own URLs.
    path("accounts/2fa/totp/activate/", two_step.activate_totp, name="mfa_activate_totp"),
    # allauth's email addresses page, under the sign-up rules; before allauth's own URLs.
    path("accounts/email/", email_addresses.email_addresses, name="account_email"),
    path("accounts/", include("allauth.urls")),
    path("admin/", admin_site.urls),
]
