"""Who may open which page. Objects a person may not see answer 404, never 403."""

import pytest
from django.urls import reverse

from governance.choices import CatalogState
from tests.factories import delivered_assignment, submit_request

PAGES = ["overview", "package_list", "request_history", "approval_list", "reviews", "team"]


@pytest.mark.parametrize("name", PAGES)
def test_pages_ask_anonymous_people_to_sign_in(client, world, name):
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("name", PAGES)
def test_pages_open_for_a_signed_in_person(as_user, world, name):
    assert as_user(world.requester).get(reverse(name)).status_code == 200


def test_package_page_is_404_for_a_person_outside_every_policy(as_user, world):
    url = reverse("package_detail", args=[world.package.pk])
    assert as_user(world.outsider).get(url).status_code == 404
    assert as_user(world.outsider).post(url, {"justification": "x"}).status_code == 404
    assert not world.package.requests.exists()


def test_package_of_an_unpublished_catalog_is_404(as_user, world):
    world.catalog.state = CatalogState.UNPUBLISHED
    world.catalog.save()
    url = reverse("package_detail", args=[world.package.pk])
    assert as_user(world.requester).get(url).status_code == 404


def test_hidden_package_is_not_listed_but_its_direct_link_works(as_user, world):
    world.package.is_hidden = True
    world.package.save()
    client = as_user(world.requester)
    assert world.package.display_name not in client.get(reverse("package_list")).content.decode()
    response = client.get(reverse("package_detail", args=[world.package.pk]))
    assert response.status_code == 200
    assert b"Justification" in response.content


def test_approval_page_is_404_for_anyone_but_its_approvers(as_user, world):
    stage = submit_request(world).stages.get(order=1)
    url = reverse("approval_detail", args=[stage.pk])
    for person in (world.requester, world.second_approver, world.outsider, world.owner):
        assert as_user(person).get(url).status_code == 404, person
        assert as_user(person).post(url, {"approve": "1"}).status_code == 404, person
    assert as_user(world.approver).get(url).status_code == 200
    stage.refresh_from_db()
    assert stage.state == "inProgress"


def test_someone_elses_access_and_requests_are_404(as_user, world):
    assignment = delivered_assignment(world)
    client = as_user(world.member)
    assert client.get(reverse("access_extend", args=[assignment.pk])).status_code == 404
    assert client.post(reverse("access_remove", args=[assignment.pk])).status_code == 404
    assert client.post(reverse("team_remove", args=[assignment.pk])).status_code == 404
    assignment.refresh_from_db()
    assert assignment.state == "delivered"


def test_cancelling_someone_elses_request_is_404(as_user, world):
    pending = submit_request(world)
    response = as_user(world.member).post(reverse("request_cancel", args=[pending.pk]))
    assert response.status_code == 404
    pending.refresh_from_db()
    assert pending.state == "pendingApproval"
