"""Connected organizations: /identityGovernance/entitlementManagement/connectedOrganizations.

Global administrators, API clients, connected organization administrators and anyone with a
catalog role read them (catalog people choose them in policies); the services decide who
changes them (connected organization administrators and global administrators). Sponsors are
read as directoryObjects and added and removed by reference ($ref), as Graph does.
"""

from django.urls import path

from governance.choices import ConnectedOrganizationState
from governance.models import ConnectedOrganization, User
from governance.selectors.visibility import may_read_organizations, organizations_visible_to
from governance.services.organizations import (
    organization_delete,
    organization_save,
    organization_sponsor_add,
    organization_sponsor_remove,
    organization_update,
)

from .base import API_ROOT, EM, GraphType, GraphView, get_or_404, object_id
from .errors import GraphError
from .graph_json import Body
from .organization_json import ORGANIZATION, SPONSOR, domains_from_sources, referenced_user_id
from .shapes import USER_FIELDS

ORGANIZATIONS = f"{EM}/connectedOrganizations"
ORGANIZATION_PROPERTIES = ("displayName", "description", "state", "identitySources", "id",
                           "createdDateTime", "modifiedDateTime", "createdBy", "modifiedBy")
SPONSOR_KINDS = {"internalSponsors": "internal", "externalSponsors": "external"}


def _organizations(user):
    """What `user` reads; a 403 (not an empty list) for whoever may read none."""
    if not may_read_organizations(user):
        raise GraphError("Only administrators, connected organization administrators and "
                         "people with a catalog role read connected organizations.",
                         code="Authorization_RequestDenied", status=403)
    return organizations_visible_to(user)


def _organization(user, organization_id) -> ConnectedOrganization:
    return get_or_404(_organizations(user), organization_id, "connected organization")


def _save_arguments(body: Body, current: ConnectedOrganization | None = None) -> dict:
    if body.has("identitySources"):
        domains = domains_from_sources(body.data["identitySources"], current)
    elif current is not None:
        domains = [source.domain_name for source in current.identity_sources.all()
                   if source.domain_name]  # domain and federation sources: all kept
    else:
        raise GraphError("identitySources: give at least one "
                         "#microsoft.graph.domainIdentitySource with its domainName.")
    return {
        "display_name": body.text("displayName", current.display_name if current else ""),
        "description": body.text("description", current.description if current else ""),
        "state": body.enum("state", ConnectedOrganizationState.values,
                           current.state if current else ConnectedOrganizationState.CONFIGURED),
        "domains": domains,
    }


class OrganizationList(GraphView):
    graph_type, body_properties, is_collection = ORGANIZATION, ORGANIZATION_PROPERTIES, True

    def get(self, request):
        return self.collection(_organizations(request.user), ORGANIZATION, ORGANIZATIONS)

    def post(self, request):
        _organizations(request.user)
        body = Body(self.body(), ORGANIZATION_PROPERTIES, "connectedOrganization")
        organization = organization_save(actor=request.user, organization_id=None,
                                         **_save_arguments(body))
        organization = self.reload(ConnectedOrganization.objects, organization, ORGANIZATION)
        return self.entity(organization, ORGANIZATION, ORGANIZATIONS, status=201)


class OrganizationDetail(GraphView):
    graph_type, body_properties = ORGANIZATION, ORGANIZATION_PROPERTIES

    def get(self, request, organization_id):
        organization = _organization(request.user, organization_id)
        organization = self.reload(ConnectedOrganization.objects, organization, ORGANIZATION)
        return self.entity(organization, ORGANIZATION, ORGANIZATIONS)

    def patch(self, request, organization_id):
        organization = _organization(request.user, organization_id)
        body = Body(self.body(), ORGANIZATION_PROPERTIES, "connectedOrganization")
        organization_update(actor=request.user, organization_id=organization.pk,
                            change=lambda current: _save_arguments(body, current))
        return self.no_content()

    def delete(self, request, organization_id):
        organization = _organization(request.user, organization_id)
        organization_delete(actor=request.user, organization_id=organization.pk)
        return self.no_content()


class SponsorList(GraphView):
    """GET …/{id}/internalSponsors (or externalSponsors): the sponsors as directoryObjects."""

    graph_type, is_collection = SPONSOR, True
    kind = "internalSponsors"

    def get(self, request, organization_id):
        organization = _organization(request.user, organization_id)
        sponsors = getattr(organization, f"{SPONSOR_KINDS[self.kind]}_sponsors").all()
        return self.collection(sponsors.order_by("display_name", "email", "id"), SPONSOR,
                               "directoryObjects")


class SponsorReferences(GraphView):
    """…/{id}/internalSponsors/$ref (or externalSponsors):

    - POST {"@odata.id": "https://host/v1.0/users/{userId}"} adds a sponsor;
    - DELETE ?@id=https://host/v1.0/users/{userId} removes one (as the SDK's ref.delete());
    - GET lists the references, [{"@odata.id": "https://host/v1.0/directoryObjects/{id}"}].
    """

    body_properties = ("@odata.id",)
    kind = "internalSponsors"

    def get(self, request, organization_id):
        organization = _organization(request.user, organization_id)
        root = request.build_absolute_uri(API_ROOT)
        references = GraphType("directoryObject", USER_FIELDS, lambda user, expand=(): {
            "@odata.id": f"{root}/directoryObjects/{user.pk}"})
        sponsors = getattr(organization, f"{SPONSOR_KINDS[self.kind]}_sponsors").all()
        return self.collection(sponsors.order_by("display_name", "email", "id"), references,
                               "Collection($ref)")

    def post(self, request, organization_id):
        organization = _organization(request.user, organization_id)
        user_id = referenced_user_id(self.body())
        person = User.objects.filter(pk=user_id).first()
        if person is None:
            raise GraphError(f"@odata.id: no user has the id '{user_id}'.")
        organization_sponsor_add(actor=request.user, organization_id=organization.pk,
                                 user=person, kind=SPONSOR_KINDS[self.kind])
        return self.no_content()

    def delete(self, request, organization_id):
        reference = request.query_params.get("@id")
        if not reference:
            raise GraphError("@id: give the sponsor to remove, e.g. "
                             "$ref?@id=https://graph.microsoft.com/v1.0/users/{id}.")
        return _sponsor_remove(request, organization_id, self.kind,
                               referenced_user_id({"@odata.id": reference}, "@id"))


def _sponsor_remove(request, organization_id, kind_name: str, user_id: int):
    organization = _organization(request.user, organization_id)
    kind = SPONSOR_KINDS[kind_name]
    person = getattr(organization, f"{kind}_sponsors").filter(pk=user_id).first()
    if person is None:
        raise GraphError(f"No {kind} sponsor of this connected organization has the id "
                         f"'{user_id}'.", code="ResourceNotFound", status=404)
    organization_sponsor_remove(actor=request.user, organization_id=organization.pk,
                                user=person, kind=kind)
    return GraphView.no_content()


class SponsorRemove(GraphView):
    """DELETE …/{id}/internalSponsors/{userId}/$ref."""

    kind = "internalSponsors"

    def delete(self, request, organization_id, user_id):
        return _sponsor_remove(request, organization_id, self.kind,
                               object_id(user_id, "sponsor"))


def _sponsor_paths(kind: str) -> list:
    base = f"{ORGANIZATIONS}/<str:organization_id>/{kind}"
    return [
        path(base, SponsorList.as_view(kind=kind)),
        path(f"{base}/$ref", SponsorReferences.as_view(kind=kind)),
        path(f"{base}/<str:user_id>/$ref", SponsorRemove.as_view(kind=kind)),
    ]


urlpatterns = [
    path(ORGANIZATIONS, OrganizationList.as_view()),
    path(f"{ORGANIZATIONS}/<str:organization_id>", OrganizationDetail.as_view()),
    *_sponsor_paths("internalSponsors"),
    *_sponsor_paths("externalSponsors"),
]
