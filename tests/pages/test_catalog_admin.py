"""The admin's catalogs and their role holders, resources, and the autocomplete fields, through
the test client: the refusals are the services', beside their field, with nothing saved."""



from django.urls import reverse

from governance.choices import (
    CatalogRole,
    GroupMembershipRole,
)
from governance.models import (
    AuditEvent,
    Catalog,
    CatalogRoleAssignment,
    GroupMembership,
    Resource,
)
from tests.config_helpers import config_snapshot
from tests.factories import PackageFactory
from tests.pages.builder_forms import (
    CATALOGS,
    PACKAGES,
    POLICIES,
    RESOURCES,
    field_errors,
)

# Catalogs and their role holders


def test_a_catalog_creator_adds_a_catalog_and_owns_it(people, as_user):
    client = as_user(people.creator)
    assert client.get(reverse(f"{CATALOGS}_changelist")).status_code == 200
    response = client.post(reverse(f"{CATALOGS}_add"), {
        "display_name": "Research", "description": "Labs.", "state": "published",
        "is_externally_visible": "on", "_save": "Save"})
    assert response.status_code == 302
    catalog = Catalog.objects.get(display_name="Research")
    assert CatalogRoleAssignment.objects.filter(catalog=catalog, user=people.creator,
                                                role=CatalogRole.OWNER).exists()
    page = client.get(reverse(f"{CATALOGS}_change", args=[catalog.pk])).content.decode()
    assert "Who holds a role in this catalog" in page and people.creator.email in page


def test_the_owner_grants_and_hands_over_roles_in_the_inline(world, people, owner_client):
    url = reverse(f"{CATALOGS}_change", args=[world.catalog.pk])
    holders = list(CatalogRoleAssignment.objects.filter(catalog=world.catalog).order_by(
        "role", "user__email"))
    form = {"display_name": "Projects", "description": "", "state": "published",
            "is_externally_visible": "on", "_save": "Save",
            "role_assignments-TOTAL_FORMS": str(len(holders) + 1),
            "role_assignments-INITIAL_FORMS": str(len(holders)),
            "role_assignments-MIN_NUM_FORMS": "0", "role_assignments-MAX_NUM_FORMS": "1000"}
    for index, holder in enumerate(holders):
        form |= {f"role_assignments-{index}-id": holder.pk,
                 f"role_assignments-{index}-catalog": world.catalog.pk,
                 f"role_assignments-{index}-user": holder.user_id,
                 f"role_assignments-{index}-role": holder.role}
    new = len(holders)
    form |= {f"role_assignments-{new}-catalog": world.catalog.pk,
             f"role_assignments-{new}-user": people.other_owner.pk,
             f"role_assignments-{new}-role": CatalogRole.OWNER}
    owner_row = next(index for index, holder in enumerate(holders)
                     if holder.user_id == world.owner.pk)

    # Removing the only owner, without a new one, is refused above the inline.
    lonely = form | {f"role_assignments-{owner_row}-DELETE": "on",
                     f"role_assignments-{new}-user": "", f"role_assignments-{new}-role": ""}
    before = config_snapshot()
    response = owner_client.post(url, lonely)
    assert response.status_code == 200
    errors = response.context["inline_admin_formsets"][0].formset.non_form_errors()
    assert "last owner" in errors[0]
    assert config_snapshot() == before

    # Adding a new owner and leaving in one save works: grants come first.
    response = owner_client.post(url, form | {f"role_assignments-{owner_row}-DELETE": "on"})
    assert response.status_code == 302
    owners = CatalogRoleAssignment.objects.filter(catalog=world.catalog,
                                                  role=CatalogRole.OWNER)
    assert [holder.user for holder in owners] == [people.other_owner]
    assert {event.action for event in AuditEvent.objects.filter(
        object_type="catalog", object_id=str(world.catalog.pk))} == {
        "catalog.roleGranted", "catalog.roleRevoked"}


def test_a_reader_sees_the_catalog_policy_and_package_without_changing_them(world, people,
                                                                             as_user):
    client = as_user(people.reader)
    page = client.get(reverse(f"{POLICIES}_change", args=[world.policy.pk])).content.decode()
    assert "Approver" in page and 'name="_save"' not in page
    assert "Which project code?" in page
    page = client.get(reverse(f"{PACKAGES}_change", args=[world.package.pk])).content.decode()
    assert "Contoso partners" in page and 'name="_save"' not in page
    assert client.get(reverse(f"{CATALOGS}_change",
                              args=[world.catalog.pk])).status_code == 200
    assert client.post(reverse(f"{POLICIES}_change", args=[world.policy.pk]),
                       {"display_name": "Mine"}).status_code == 403


# Resources


def test_an_owner_offers_a_group_they_own(world, people, owner_client):
    page = owner_client.get(reverse(f"{RESOURCES}_add")).content.decode()
    assert "Falcon Engineers" in page and "Project Falcon" not in page.split(
        'name="group"')[1].split("</select>")[0]
    response = owner_client.post(reverse(f"{RESOURCES}_add"), {
        "catalog": world.catalog.pk, "group": people.owned_group.pk, "display_name": "",
        "description": "", "_save": "Save"})
    assert response.status_code == 302
    resource = Resource.objects.get(catalog=world.catalog, origin_id=str(people.owned_group.pk))
    assert sorted(resource.roles.values_list("display_name", flat=True)) == ["Member", "Owner"]


def test_an_owner_renames_a_resource_but_not_what_it_points_at(world, owner_client):
    resource = Resource.objects.get(catalog=world.catalog, origin_id=str(world.group.pk))
    url = reverse(f"{RESOURCES}_change", args=[resource.pk])
    response = owner_client.post(url, {"display_name": "Falcon team", "description": "",
                                       "origin_id": "999", "_save": "Save"})
    assert response.status_code == 302
    resource.refresh_from_db()
    assert (resource.display_name, resource.origin_id) == ("Falcon team", str(world.group.pk))


def test_a_group_already_offered_is_refused_beside_the_field(world, people, owner_client):
    GroupMembership.objects.create(group=world.group, user=world.owner,
                                   role=GroupMembershipRole.OWNER)
    before = config_snapshot()
    response = owner_client.post(reverse(f"{RESOURCES}_add"), {
        "catalog": world.catalog.pk, "group": world.group.pk, "_save": "Save"})
    assert response.status_code == 200
    assert "already offers" in field_errors(response, "group")[0]
    assert config_snapshot() == before


# Autocomplete: people for everyone with a role, packages only of one's catalogs


def autocomplete(client, model: str, field: str, term: str) -> list[str]:
    response = client.get(reverse("admin:autocomplete"), {
        "app_label": "governance", "model_name": model, "field_name": field, "term": term})
    assert response.status_code == 200, response.content
    return [result["text"] for result in response.json()["results"]]


def test_autocomplete_finds_people_and_only_visible_packages(world, people, owner_client):
    assert autocomplete(owner_client, "assignmentpolicy", "specific_users",
                        "second.approver") == ["Second.Approver"]
    PackageFactory(catalog=people.other_catalog, display_name="Falcon ledger")
    assert autocomplete(owner_client, "accesspackage", "incompatible_access_packages",
                        "falcon") == ["Falcon collaboration"]
    assert autocomplete(owner_client, "approverset", "group", "Falcon") == [
        "Falcon Engineers", "Falcon Reports", "Project Falcon"]


