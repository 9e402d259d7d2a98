"""The browser's `tz` cookie (and a stored zone) pick the zone pages show dates in; a name
that is no zone (a folder of the zone database, a path, garbage, nothing) is ignored: the page
answers 200 in the portal's zone instead of a 500."""

from datetime import UTC, datetime

import pytest
import time_machine
from django.urls import reverse

from tests.factories import submit_request

IN_UTC = "1 Mar 2026, 23:30"
NOT_ZONES = ["America", "Europe", "../../etc/passwd", "", "/etc/localtime", "zone.tab",
             "America/", "Etc", "x" * 300, "Europe/Paris\\"]


@pytest.fixture
def history(world, as_user, settings):
    settings.TIME_ZONE = "UTC"
    with time_machine.travel(datetime(2026, 3, 1, 23, 30, tzinfo=UTC), tick=False):
        submit_request(world)
    client = as_user(world.requester)

    def page(zone: str):
        client.cookies["tz"] = zone
        return client.get(reverse("request_history"))
    return page


@pytest.mark.parametrize("name", NOT_ZONES)
def test_a_cookie_that_names_no_zone_is_ignored(history, name):
    response = history(name)
    assert response.status_code == 200
    assert IN_UTC in response.content.decode()


def test_a_cookie_that_names_a_zone_is_followed(history):
    assert "2 Mar 2026, 00:30" in history("Europe/Paris").content.decode()


@pytest.mark.parametrize("name", ["America", "../../etc/passwd"])
def test_a_signed_out_page_ignores_a_cookie_that_names_no_zone(db, client, name):
    client.cookies["tz"] = name
    assert client.get(reverse("account_login")).status_code == 200


def test_a_stored_zone_that_is_no_zone_is_ignored(world, history):
    world.requester.time_zone = "America"  # as a directory import could have written it
    world.requester.save(update_fields=["time_zone"])
    response = history("Europe/Paris")
    assert response.status_code == 200
    assert "2 Mar 2026, 00:30" in response.content.decode()


@pytest.mark.parametrize("stored", ["America", "../../etc/passwd", "Not/AZone"])
def test_out_of_office_dates_ignore_a_stored_zone_that_is_no_zone(stored, settings):
    from governance.models import User
    from governance.selectors.delegations import zone_of

    settings.TIME_ZONE = "Europe/Paris"
    assert str(zone_of(User(time_zone=stored))) == "Europe/Paris"
