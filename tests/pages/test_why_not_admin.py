"""The admin's "Which policy, and why not?" page: for anyone who may read the package's
catalog, a 404 for any other package, linked from each assignment and request page, in a
fixed number of queries."""

import pytest
from django.urls import reverse

from governance.choices import AllowedTargetScope, CatalogRole
from tests.factories import (
    CatalogFactory,
    PackageFactory,
    PolicyFactory,
    UserFactory,
    delivered_assignment,
    role_holder,
    submit_request,
)

PAGE = reverse("admin:why_not")


def why_not(client, person, package):
    return client.get(PAGE, {"person": person.pk, "package": package.pk})


@pytest.fixture
def members_only(world):
    """A second policy of the world's package, for members, which the requester is not."""
    return PolicyFactory(access_package=world.package, display_name="Staff",
                         allowed_target_scope=AllowedTargetScope.ALL_MEMBER_USERS)


def test_owner_sees_each_policy_and_why_not(world, as_user, members_only):
    response = why_not(as_user(world.owner), world.requester, world.package)
    assert response.status_code == 200
    text = response.content.decode()
    assert f"{world.requester} can request “Falcon collaboration”." in text
    assert f"This policy is for members; {world.requester} is a guest." in text
    assert "Contoso partners" in text and "Staff" in text


def test_package_reasons_show(world, as_user):
    submit_request(world)
    text = why_not(as_user(world.owner), world.requester, world.package).content.decode()
    assert f"{world.requester} cannot request “Falcon collaboration” now." in text
    assert f"{world.requester} already has an open request for" in text


def test_reader_of_the_catalog_sees_it(world, as_user):
    reader = role_holder(world.catalog, CatalogRole.READER, email="reader@access.example")
    assert why_not(as_user(reader), world.member, world.package).status_code == 200


def test_package_of_another_catalog_is_404(world, as_user):
    elsewhere = PackageFactory(catalog=CatalogFactory(display_name="Finance"),
                               display_name="Ledger")
    assert why_not(as_user(world.owner), world.member, elsewhere).status_code == 404
    assert as_user(world.owner).get(PAGE, {"package": "x"}).status_code == 404


def test_stranger_gets_404(world, as_user):
    stranger = role_holder(CatalogFactory(display_name="Finance"), CatalogRole.OWNER,
                           email="stranger@access.example")
    assert why_not(as_user(stranger), world.member, world.package).status_code == 404
    form = as_user(stranger).get(PAGE).content.decode()
    assert "Falcon collaboration" not in form


def test_no_role_at_all_is_sent_away(world, as_user):
    response = why_not(as_user(UserFactory(email="nobody@access.example")), world.member,
                       world.package)
    assert response.status_code == 302


def test_package_choices_are_the_readable_ones(world, as_user):
    PackageFactory(catalog=CatalogFactory(display_name="Finance"), display_name="Ledger")
    form = as_user(world.owner).get(PAGE).content.decode()
    assert "Projects: Falcon collaboration" in form
    assert "Ledger" not in form


def test_assignment_page_links_to_it(world, as_user):
    assignment = delivered_assignment(world)
    page = as_user(world.owner).get(reverse("admin:governance_assignment_change",
                                            args=[assignment.pk])).content.decode()
    assert (f'href="{PAGE}?person={world.requester.pk}&amp;package={world.package.pk}"'
            in page)
    assert "Why (not)?" in page


def test_request_page_links_to_it(world, as_user):
    request = submit_request(world)
    page = as_user(world.owner).get(reverse("admin:governance_assignmentrequest_change",
                                            args=[request.pk])).content.decode()
    assert (f'href="{PAGE}?person={world.requester.pk}&amp;package={world.package.pk}"'
            in page)


# The session, the admin's checks, the readable packages (twice: the check and the form's
# choices), the chosen person, the explanation's nine and the page around it.
QUERIES = 19


@pytest.mark.parametrize("more", [0, 4])
def test_queries_do_not_grow_with_policies(world, as_user, more, django_assert_num_queries):
    for n in range(more):
        PolicyFactory(access_package=world.package, display_name=f"Staff {n}",
                      allowed_target_scope=AllowedTargetScope.ALL_MEMBER_USERS)
    client = as_user(world.owner)
    client.get(PAGE)  # the session and the sign-in checks settle
    with django_assert_num_queries(QUERIES):
        response = why_not(client, world.requester, world.package)
    assert response.content.decode().count('class="policy-row"') == 1 + more



def test_person_field_asks_the_person_look_up(world, as_user):
    client = as_user(world.owner)
    form = client.get(PAGE).content.decode()
    assert 'data-app-label="governance"' in form and 'data-field-name="target"' in form
    answer = client.get(reverse("admin:autocomplete"), {
        "app_label": "governance", "model_name": "assignment", "field_name": "target",
        "term": "requester"}).json()
    assert [row["id"] for row in answer["results"]] == [str(world.requester.pk)]
