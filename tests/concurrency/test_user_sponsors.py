"""A user's sponsors changed by reference ($ref) at the same moment: no sponsor is lost.

person_update sets the whole list of sponsors, so POST …/sponsors/$ref reads the current list
and hands it back with one more. Read outside a lock, two adds that read before either wrote
keep only the last one; the endpoints read the list under the person's row lock.
"""

import threading

import pytest

from governance.choices import ApiPermission
from governance.models import User
from governance.services.api_tokens import api_client_create
from governance.services.people import person_update
from tests.api.conftest import graph_client
from tests.concurrency.race import raise_unexpected, run_together
from tests.factories import GuestFactory, UserFactory

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

ROUNDS = 30
USERS = "/v1.0/users"
GRAPH = "https://graph.microsoft.com/v1.0"


@pytest.fixture
def admin(db):
    return UserFactory(email="people.admin@access.example", is_superuser=True)


@pytest.fixture
def writers(admin):
    """Two API clients with User.ReadWrite.All, each with its own token."""
    return [graph_client(api_client_create(
        actor=admin, display_name=f"People sync {n}",
        permissions=[ApiPermission.USER_READ_WRITE_ALL])[1]) for n in (1, 2)]


def _sent(client, method: str, url: str, body: dict | None = None):
    def call():
        response = getattr(client, method)(url, body, format="json")
        assert response.status_code == 204, (response.status_code, response.content[:300])
    return call


def _ref(person: User) -> dict:
    return {"@odata.id": f"{GRAPH}/users/{person.pk}"}


def _sponsors(person: User) -> set[int]:
    return set(person.sponsors.values_list("pk", flat=True))


def test_without_the_lock_two_adds_lose_one(world, admin):
    """The race, replayed as an unlocked read of the list would run it."""
    guest = GuestFactory(email="guest@contoso.example")
    both_read = threading.Barrier(2, timeout=30)

    def add_by_whole_list(sponsor: User) -> None:
        current = list(User.objects.get(pk=guest.pk).sponsors.values_list("pk", flat=True))
        both_read.wait()
        person_update(actor=admin, user_id=guest.pk, changes={"sponsor_ids": [*current,
                                                                               sponsor.pk]})

    raise_unexpected(run_together(lambda: add_by_whole_list(world.owner),
                                  lambda: add_by_whole_list(world.approver)))
    assert len(_sponsors(guest)) == 1


def test_two_sponsors_added_at_once_are_both_kept(world, writers):
    for round_number in range(ROUNDS):
        guest = GuestFactory(email=f"guest{round_number}@contoso.example")
        refs = f"{USERS}/{guest.pk}/sponsors/$ref"
        raise_unexpected(run_together(_sent(writers[0], "post", refs, _ref(world.owner)),
                                      _sent(writers[1], "post", refs, _ref(world.approver))))
        assert _sponsors(guest) == {world.owner.pk, world.approver.pk}, f"round {round_number}"


def test_an_add_beside_a_remove_keeps_the_one_and_drops_the_other(world, writers):
    for round_number in range(ROUNDS):
        guest = GuestFactory(email=f"guest{round_number}@contoso.example")
        guest.sponsors.add(world.approver)
        sponsors = f"{USERS}/{guest.pk}/sponsors"
        raise_unexpected(run_together(
            _sent(writers[0], "post", f"{sponsors}/$ref", _ref(world.owner)),
            _sent(writers[1], "delete", f"{sponsors}/{world.approver.pk}/$ref")))
        assert _sponsors(guest) == {world.owner.pk}, f"round {round_number}"
