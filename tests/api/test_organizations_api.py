"""connectedOrganizations: list, read, create, change, delete, sponsors by $ref; who reads and
who changes them."""

from datetime import timedelta

import pytest
from msgraph.generated.models.connected_organization import (
    ConnectedOrganization as GraphOrganization,
)
from msgraph.generated.models.connected_organization_state import (
    ConnectedOrganizationState,
)
from msgraph.generated.models.domain_identity_source import DomainIdentitySource
from msgraph.generated.models.entitlement_management_settings import (
    EntitlementManagementSettings,
)
from msgraph.generated.models.reference_create import ReferenceCreate

from governance.choices import GlobalRole, IdentitySourceType
from governance.models import ConnectedOrganization, GlobalRoleAssignment, IdentitySource
from tests.api.conftest import (
    EM,
    assert_graph_error,
    assert_refused_three_ways,
    page_cost,
    person_client,
)
from tests.api.sdk import api_client_token, assert_graph_v1_properties, call, graph_service_client
from tests.factories import OrganizationFactory, UserFactory

ORGANIZATIONS = f"{EM}/connectedOrganizations"
DOMAIN = "#microsoft.graph.domainIdentitySource"


def _domain(name: str) -> dict:
    return {"@odata.type": DOMAIN, "domainName": name, "displayName": name}


def test_owner_lists_organizations_as_graph_writes_them(world, callers):
    body = callers.owner.get(ORGANIZATIONS, {"$orderby": "displayName"}).json()
    assert body["@odata.context"].endswith("$metadata#identityGovernance/"
                                           "entitlementManagement/connectedOrganizations")
    contoso, fabrikam = body["value"]
    assert contoso["id"] == str(world.organization.pk)
    assert contoso["displayName"] == "Contoso" and contoso["state"] == "configured"
    assert contoso["identitySources"] == [{"@odata.type": DOMAIN, "displayName":
                                           "contoso.example", "domainName": "contoso.example"}]
    assert contoso["createdDateTime"].endswith("Z") and fabrikam["displayName"] == "Fabrikam"
    assert "internalSponsors" not in contoso
    first = callers.owner.get(ORGANIZATIONS, {"$top": "1", "$orderby": "displayName"}).json()
    assert [o["displayName"] for o in first["value"]] == ["Contoso"]
    second = callers.owner.get(first["@odata.nextLink"]).json()
    assert [o["displayName"] for o in second["value"]] == ["Fabrikam"]
    assert "@odata.nextLink" not in second


def test_filter_and_expand_sponsors(world, callers):
    world.organization.internal_sponsors.add(world.approver)
    world.organization.external_sponsors.add(world.requester)
    OrganizationFactory(display_name="Proposed one", domain="proposed.example", state="proposed")
    response = callers.reader.get(ORGANIZATIONS, {
        "$filter": "state eq 'configured' and startswith(displayName, 'con')",
        "$expand": "internalSponsors,externalSponsors"})
    [contoso] = response.json()["value"]
    [internal] = contoso["internalSponsors"]
    assert internal["@odata.type"] == "#microsoft.graph.user"
    assert internal["id"] == str(world.approver.pk)
    assert internal["userPrincipalName"] == "approver@access.example"
    assert contoso["externalSponsors"][0]["userType"] == "Guest"
    proposed = callers.reader.get(ORGANIZATIONS, {"$filter": "state eq 'proposed'"}).json()
    assert [o["displayName"] for o in proposed["value"]] == ["Proposed one"]
    assert_graph_error(callers.reader.get(ORGANIZATIONS, {"$filter": "state eq 'sunny'"}),
                       400, "sunny")
    assert_graph_error(callers.reader.get(ORGANIZATIONS, {"$expand": "users"}), 400, "users")


def test_a_page_costs_the_same_queries_for_2_and_20_organizations(world, callers):
    def count():
        return page_cost(callers.reader, ORGANIZATIONS,
                         {"$expand": "internalSponsors,externalSponsors"})

    small, shown = count()
    assert shown == 2
    for n in range(18):
        organization = OrganizationFactory(domain=f"partner{n}.example")
        organization.internal_sponsors.add(world.approver)
    large, shown = count()
    assert shown == 20 and large == small


def test_writer_creates_changes_and_deletes_an_organization(world, callers):
    created = callers.writer.post(ORGANIZATIONS, {
        "displayName": "Woodgrove", "description": "Bank", "state": "configured",
        "identitySources": [_domain("woodgrove.example"), _domain("Woodgrove.test")]},
        format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["@odata.context"].endswith("/connectedOrganizations/$entity")
    assert [s["domainName"] for s in body["identitySources"]] == ["woodgrove.example",
                                                                    "woodgrove.test"]
    url = f"{ORGANIZATIONS}/{body['id']}"
    changed = callers.writer.patch(url, {"description": "A bank", "state": "proposed"},
                                   format="json")
    assert changed.status_code == 204, changed.content
    organization = ConnectedOrganization.objects.get(pk=body["id"])
    assert (organization.description, organization.state) == ("A bank", "proposed")
    assert organization.identity_sources.count() == 2
    replaced = callers.writer.patch(url, {"identitySources": [_domain("woodgrove.example")]},
                                    format="json")
    assert replaced.status_code == 204
    assert list(organization.identity_sources.values_list("domain_name", flat=True)) == [
        "woodgrove.example"]
    assert callers.writer.get(url, {"$select": "displayName"}).json()["displayName"] == \
        "Woodgrove"
    assert callers.writer.delete(url).status_code == 204
    assert not ConnectedOrganization.objects.filter(pk=body["id"]).exists()


def test_tenant_sources_are_kept_but_not_added(world, callers):
    IdentitySource.objects.create(organization=world.organization, tenant_id="abc-123",
                                  display_name="Contoso tenant",
                                  source_type=IdentitySourceType.TENANT)
    url = f"{ORGANIZATIONS}/{world.organization.pk}"
    tenant = {"@odata.type": "#microsoft.graph.azureActiveDirectoryTenant",
              "tenantId": "abc-123", "displayName": "Contoso tenant"}
    shown = callers.writer.get(url).json()["identitySources"]
    assert tenant in shown
    # Sent back as read: accepted, the tenant stays.
    again = callers.writer.patch(url, {"identitySources": shown}, format="json")
    assert again.status_code == 204, again.content
    new_tenant = dict(tenant, tenantId="other-tenant")
    response = callers.writer.patch(url, {"identitySources": [new_tenant]}, format="json")
    assert_graph_error(response, 400, "identitySources[0]", "azureActiveDirectoryTenant")
    federation = {"@odata.type": "#microsoft.graph.externalDomainFederation",
                  "domainName": "fed.example", "issuerUri": "https://fed.example/idp"}
    response = callers.writer.post(ORGANIZATIONS, {"displayName": "Fed",
                                                   "identitySources": [federation]},
                                   format="json")
    assert_graph_error(response, 400, "externalDomainFederation")
    assert world.organization.identity_sources.count() == 2
    # A federation the organization has stays, even when a body leaves it out.
    IdentitySource.objects.create(organization=world.organization, domain_name="fed.example",
                                  issuer_uri="https://fed.example/idp",
                                  source_type=IdentitySourceType.FEDERATION)
    assert callers.writer.patch(url, {"identitySources": [_domain("contoso.example"),
                                                          _domain("contoso.test")]},
                                format="json").status_code == 204
    assert callers.writer.patch(url, {"description": "Kept"}, format="json").status_code == 204
    sources = callers.writer.get(url).json()["identitySources"]
    assert sorted(s["@odata.type"].split(".")[-1] + ":" + (s.get("domainName") or s.get(
        "tenantId")) for s in sources) == [
        "azureActiveDirectoryTenant:abc-123", "domainIdentitySource:contoso.example",
        "domainIdentitySource:contoso.test", "externalDomainFederation:fed.example"]


def test_bad_bodies_change_nothing(world, callers):
    before = list(ConnectedOrganization.objects.values_list("id", "display_name", "state"))
    sources_before = IdentitySource.objects.count()
    for body, status, words in (
            ({"displayName": "X", "identitySources": [_domain("x.example")], "state": "maybe"},
             400, ("state", "configured")),
            ({"displayName": "X", "identitySources": [_domain("x.example")], "colour": "red"},
             400, ("colour",)),
            ({"displayName": "X"}, 400, ("identitySources",)),
            ({"displayName": "X", "identitySources": [{"domainName": "x.example"}]},
             400, ("@odata.type",)),
            ({"displayName": "X", "identitySources": [
                {"@odata.type": "#microsoft.graph.socialIdentitySource"}]},
             400, ("socialIdentitySource",)),
            ({"displayName": "X", "identitySources": [dict(_domain("x.example"), tld=1)]},
             400, ("tld",)),
            ({"displayName": "X", "identitySources": [_domain("not a domain")]},
             400, ("identitySources", "not a domain")),
            ({"displayName": "X", "identitySources": [_domain("contoso.example")]},
             409, ("contoso.example", "Contoso")),
            ({"displayName": "", "identitySources": [_domain("x.example")]},
             400, ("displayName",))):
        assert_graph_error(callers.writer.post(ORGANIZATIONS, body, format="json"),
                           status, *words)
    response = callers.writer.generic("POST", ORGANIZATIONS, "{nope",
                                      content_type="application/json")
    assert_graph_error(response, 400, "JSON")
    assert list(ConnectedOrganization.objects.values_list("id", "display_name",
                                                          "state")) == before
    assert IdentitySource.objects.count() == sources_before


def test_an_organization_in_use_is_not_deleted(world, callers):
    response = callers.writer.delete(f"{ORGANIZATIONS}/{world.organization.pk}")
    assert_graph_error(response, 409, "assignment policy")
    assert ConnectedOrganization.objects.filter(pk=world.organization.pk).exists()


def test_sponsors_added_read_and_removed_by_reference(world, callers):
    base = f"{ORGANIZATIONS}/{world.organization.pk}"
    reference = {"@odata.id": f"https://graph.microsoft.com/v1.0/users/{world.approver.pk}"}
    added = callers.writer.post(f"{base}/internalSponsors/$ref", reference, format="json")
    assert added.status_code == 204, added.content
    guest = {"@odata.id": f"http://testserver/v1.0/users/{world.requester.pk}"}
    assert callers.writer.post(f"{base}/externalSponsors/$ref", guest,
                               format="json").status_code == 204
    listed = callers.owner.get(f"{base}/internalSponsors").json()
    assert listed["@odata.context"].endswith("$metadata#directoryObjects")
    assert [(s["@odata.type"], s["id"]) for s in listed["value"]] == [
        ("#microsoft.graph.user", str(world.approver.pk))]
    externals = callers.owner.get(f"{base}/externalSponsors").json()["value"]
    assert [s["mail"] for s in externals] == ["requester@contoso.example"]
    # Again: a duplicate; a guest as internal sponsor: refused by the service.
    assert_graph_error(callers.writer.post(f"{base}/internalSponsors/$ref", reference,
                                           format="json"), 409, "already")
    assert_graph_error(callers.writer.post(f"{base}/internalSponsors/$ref", guest,
                                           format="json"), 400, "guest")
    for body, words in (({"@odata.id": "https://graph.microsoft.com/v1.0/groups/1"},
                         ("@odata.id", "user")),
                        ({"id": "3"}, ("id",)),
                        ({"@odata.id": "https://x/v1.0/users/999999"}, ("999999",))):
        assert_graph_error(callers.writer.post(f"{base}/internalSponsors/$ref", body,
                                               format="json"), 400, *words)
    removed = callers.writer.delete(f"{base}/internalSponsors/{world.approver.pk}/$ref")
    assert removed.status_code == 204
    assert not world.organization.internal_sponsors.exists()
    assert_graph_error(callers.writer.delete(f"{base}/internalSponsors/{world.approver.pk}/$ref"),
                       404)
    assert_graph_error(callers.writer.delete(f"{base}/internalSponsors/abc/$ref"), 404)


def test_sponsor_references_as_the_sdk_reads_and_removes_them(world, callers):
    base = f"{ORGANIZATIONS}/{world.organization.pk}/internalSponsors/$ref"
    world.organization.internal_sponsors.add(world.approver, world.member)
    listed = callers.reader.get(base).json()
    assert listed["@odata.context"].endswith("$metadata#Collection($ref)")
    assert {item["@odata.id"] for item in listed["value"]} == {
        f"http://testserver/v1.0/directoryObjects/{world.approver.pk}",
        f"http://testserver/v1.0/directoryObjects/{world.member.pk}"}
    removed = callers.writer.delete(
        f"{base}?@id=https://graph.microsoft.com/v1.0/directoryObjects/{world.member.pk}")
    assert removed.status_code == 204, removed.content
    assert list(world.organization.internal_sponsors.all()) == [world.approver]
    assert_graph_error(callers.writer.delete(base), 400, "@id")
    assert_graph_error(callers.writer.delete(f"{base}?@id=https://x/v1.0/groups/4"), 400,
                       "@id")
    assert_graph_error(callers.writer.delete(f"{base}?@id=https://x/v1.0/users/"
                                             f"{world.member.pk}"), 404)
    assert_refused_three_ways(callers, "delete",
                              f"{base}?@id=https://x/v1.0/users/{world.approver.pk}",
                              stranger_status=403)
    assert list(world.organization.internal_sponsors.all()) == [world.approver]


def test_connected_organization_administrators_write(world, callers):
    administrator = UserFactory(email="orgs@access.example")
    GlobalRoleAssignment.objects.create(user=administrator, role=GlobalRole.CONNECTED_ORG_ADMIN)
    client = person_client(administrator)
    url = f"{ORGANIZATIONS}/{world.organization.pk}"
    assert client.get(ORGANIZATIONS).status_code == 200
    assert client.patch(url, {"description": "Partner"}, format="json").status_code == 204
    reference = {"@odata.id": f"https://graph.microsoft.com/v1.0/users/{world.member.pk}"}
    assert client.post(f"{url}/internalSponsors/$ref", reference,
                       format="json").status_code == 204


def test_permissions(world, callers):
    url = f"{ORGANIZATIONS}/{world.organization.pk}"
    world.organization.internal_sponsors.add(world.approver)
    reference = {"@odata.id": f"https://graph.microsoft.com/v1.0/users/{world.member.pk}"}
    body = {"displayName": "X", "identitySources": [_domain("x.example")]}
    for reading in (ORGANIZATIONS, url, f"{url}/internalSponsors", f"{url}/externalSponsors"):
        assert callers.reader.get(reading).status_code == 200
        assert callers.stranger.get(reading).status_code == 200  # a catalog role reads
        assert_graph_error(callers.anonymous.get(reading), 401)
        assert_graph_error(callers.member.get(reading), 403, "catalog role")
    # The stranger sees organizations but may not change them.
    assert_refused_three_ways(callers, "post", ORGANIZATIONS, body, stranger_status=403)
    assert_refused_three_ways(callers, "patch", url, {"description": "x"}, stranger_status=403)
    assert_refused_three_ways(callers, "delete", url, stranger_status=403)
    assert_refused_three_ways(callers, "post", f"{url}/internalSponsors/$ref", reference,
                              stranger_status=403)
    assert_refused_three_ways(callers, "delete", f"{url}/internalSponsors/{world.approver.pk}/$ref",
                              stranger_status=403)
    assert_graph_error(callers.member.patch(url, {"description": "x"}, format="json"), 403)
    assert_graph_error(callers.writer.get(f"{ORGANIZATIONS}/99999"), 404)
    assert_graph_error(callers.writer.get(f"{ORGANIZATIONS}/abc"), 404)
    world.organization.refresh_from_db()
    assert world.organization.description == ""
    assert list(world.organization.internal_sponsors.all()) == [world.approver]
    assert not ConnectedOrganization.objects.filter(display_name="X").exists()


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_microsofts_sdk_reads_and_writes_organizations_and_settings(live_server):
    sponsor = UserFactory(email="sponsor@access.example", display_name="Sponsor")
    _principal, token = api_client_token("SDK organizations")
    admin = graph_service_client(live_server.url, token)
    em = admin.identity_governance.entitlement_management
    created = call(admin, em.connected_organizations.post(GraphOrganization(
        display_name="Woodgrove", description="Bank", state=ConnectedOrganizationState.Configured,
        identity_sources=[DomainIdentitySource(domain_name="woodgrove.example",
                                               display_name="woodgrove.example")])),
        "POST connectedOrganizations")
    assert created.display_name == "Woodgrove"
    assert created.identity_sources[0].domain_name == "woodgrove.example"
    item = em.connected_organizations.by_connected_organization_id(created.id)
    call(admin, item.patch(GraphOrganization(description="A bank")), "PATCH")
    call(admin, item.internal_sponsors.ref.post(ReferenceCreate(
        odata_id=f"https://graph.microsoft.com/v1.0/users/{sponsor.pk}")), "POST $ref")
    sponsors = call(admin, item.internal_sponsors.get(), "GET internalSponsors")
    assert [s.id for s in sponsors.value] == [str(sponsor.pk)]
    read = call(admin, item.get(), "GET connectedOrganization")
    assert (read.description, read.state) == ("A bank", ConnectedOrganizationState.Configured)
    listed = call(admin, em.connected_organizations.get(), "GET connectedOrganizations")
    assert [o.display_name for o in listed.value] == ["Woodgrove"]
    call(admin, item.internal_sponsors.by_directory_object_id(str(sponsor.pk)).ref.delete(),
         "DELETE internalSponsors/{id}/$ref")
    assert not ConnectedOrganization.objects.get(pk=created.id).internal_sponsors.exists()
    call(admin, em.settings.patch(EntitlementManagementSettings(
        duration_until_external_user_deleted_after_blocked=timedelta(days=45))),
        "PATCH settings")
    settings = call(admin, em.settings.get(), "GET settings")
    assert settings.duration_until_external_user_deleted_after_blocked == timedelta(days=45)
    assert settings.external_user_lifecycle_action.value == "blockSignInAndDelete"
    call(admin, item.delete(), "DELETE connectedOrganization")
    assert not ConnectedOrganization.objects.filter(pk=created.id).exists()
    assert_graph_v1_properties(admin)
