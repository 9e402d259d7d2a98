"""connectedOrganization's JSON, its identity sources read from a body, and sponsor references.

Identity sources are Graph's derived types, told apart by ``@odata.type``:
domainIdentitySource {domainName, displayName}, azureActiveDirectoryTenant {tenantId,
displayName}, externalDomainFederation {domainName, issuerUri, displayName}. The service
(governance.services.organizations) administers email domains; the other kinds are kept as
they are, so a body may repeat them unchanged but may not add new ones.
"""


from django.db.models import Prefetch

from governance.choices import ConnectedOrganizationState, IdentitySourceType
from governance.models import ConnectedOrganization, IdentitySource, User

from . import odata
from .base import GraphType, referenced_id
from .errors import GraphError
from .graph_json import instant, reject_unknown
from .shapes import GRAPH, USER_FIELDS, directory_object_json, sid

SOURCE_PROPERTIES = {
    IdentitySourceType.DOMAIN: ("domainName", "displayName"),
    IdentitySourceType.TENANT: ("tenantId", "displayName"),
    IdentitySourceType.FEDERATION: ("domainName", "issuerUri", "displayName"),
}

ORGANIZATION_FIELDS = {
    "id": odata.ident("pk"),
    "displayName": odata.text("display_name"),
    "description": odata.text("description"),
    "state": odata.enum("state", ConnectedOrganizationState.values),
    "createdDateTime": odata.instant("created_at"),
    "modifiedDateTime": odata.instant("modified_at"),
}


def identity_source_json(source: IdentitySource) -> dict:
    kind = source.source_type
    item = {"@odata.type": f"{GRAPH}{kind}",
            "displayName": source.display_name or source.domain_name or source.tenant_id}
    if kind == IdentitySourceType.TENANT:
        item["tenantId"] = source.tenant_id
    else:
        item["domainName"] = source.domain_name
    if kind == IdentitySourceType.FEDERATION:
        item["issuerUri"] = source.issuer_uri
    return item


def organization_json(organization: ConnectedOrganization, expand=()) -> dict:
    item = {
        "id": sid(organization.pk),
        "displayName": organization.display_name,
        "description": organization.description,
        "state": organization.state,
        "createdDateTime": instant(organization.created_at),
        "modifiedDateTime": instant(organization.modified_at),
        "identitySources": [identity_source_json(source)
                            for source in organization.identity_sources.all()],
    }
    for name, related in (("internalSponsors", "internal_sponsors"),
                          ("externalSponsors", "external_sponsors")):
        if name in expand:
            item[name] = [directory_object_json(user)
                          for user in getattr(organization, related).all()]
    return item


def organization_prefetch(queryset, expand):
    queryset = queryset.prefetch_related(
        Prefetch("identity_sources", IdentitySource.objects.order_by("id")))
    for name, related in (("internalSponsors", "internal_sponsors"),
                          ("externalSponsors", "external_sponsors")):
        if name in expand:
            queryset = queryset.prefetch_related(
                Prefetch(related, User.objects.order_by("display_name", "email", "id")))
    return queryset


ORGANIZATION = GraphType("connectedOrganization", ORGANIZATION_FIELDS, organization_json,
                         expandable=("internalSponsors", "externalSponsors"),
                         prefetch=organization_prefetch)
SPONSOR = GraphType("directoryObject", USER_FIELDS, directory_object_json)


def _source_kind(item, where: str) -> str:
    if not isinstance(item, dict):
        raise GraphError(f"{where}: an identity source must be a JSON object.")
    odata_type = item.get("@odata.type")
    if not isinstance(odata_type, str) or not odata_type:
        raise GraphError(f"{where}: give its @odata.type, e.g. "
                         "#microsoft.graph.domainIdentitySource.")
    kind = odata_type.removeprefix(GRAPH).removeprefix("microsoft.graph.")
    if kind not in SOURCE_PROPERTIES:
        raise GraphError(f"{where}: the identity source type '{odata_type}' is not supported; "
                         "use #microsoft.graph.domainIdentitySource.")
    reject_unknown(item, SOURCE_PROPERTIES[kind], kind)
    return kind


def _text(item: dict, name: str, where: str) -> str:
    value = item.get(name)
    if not isinstance(value, str) or not value.strip():
        raise GraphError(f"{where}.{name}: expected a non-empty string.")
    return value.strip()


def domains_from_sources(items, current: ConnectedOrganization | None) -> list[str]:
    """The email domains of a body's identitySources, for the service. Tenant and federation
    sources must be ones the organization already has, and stay whatever the body says (the
    service keeps a source whose domain it is given, so federation domains are passed on)."""
    if not isinstance(items, list):
        raise GraphError("identitySources: expected a JSON array of identity sources.")
    existing = list(current.identity_sources.exclude(source_type=IdentitySourceType.DOMAIN)
                    if current is not None else [])
    kept = {(source.source_type, source.tenant_id.lower(), source.domain_name.lower())
            for source in existing}
    domains = []
    for index, item in enumerate(items):
        where = f"identitySources[{index}]"
        kind = _source_kind(item, where)
        if kind == IdentitySourceType.DOMAIN:
            domains.append(_text(item, "domainName", where))
            continue
        key = (kind, str(item.get("tenantId") or "").lower(),
               str(item.get("domainName") or "").lower())
        if key not in kept:
            raise GraphError(f"{where}: {kind} identity sources cannot be added through the "
                             "API; connected organizations are recognised by email domain "
                             "(#microsoft.graph.domainIdentitySource).")
    return domains + federation_domains(existing)


def federation_domains(sources) -> list[str]:
    return [source.domain_name for source in sources
            if source.source_type == IdentitySourceType.FEDERATION and source.domain_name]


def referenced_user_id(body: dict, name: str = "@odata.id") -> int:
    """The user id of ``{"@odata.id": "https://host/v1.0/users/12"}`` (or of a
    …/directoryObjects/12 URL)."""
    raw = referenced_id(body, "users|directoryObjects", "user", name=name)
    if not raw.isdigit() or len(raw) > 18:
        raise GraphError(f"{name}: '{body['@odata.id']}' is not the URL of a user "
                         "(…/v1.0/users/{id}).")
    return int(raw)
