"""Who sees a request, its approval and the assignment it gives, asked through the three doors:
the My Access pages, the admin and the API, for the same fixed people.

The rule is one (governance.selectors.visibility); each door shows it to whom it lets in. The
pages show people their own part (what they asked for or were given, what they approve, their
team's access), the admin shows the catalog part to people with a role, and the API both. So
for every person, what they find through the pages and the admin together is what the API
answers, and no door shows anything the API refuses.
"""

from dataclasses import dataclass

import pytest
from django.test import Client
from django.urls import reverse

from governance.choices import AllowedTargetScope, CatalogRole, Decision
from governance.services.approvals import stage_decide
from governance.services.delivery import deliveries_process
from governance.services.requests import request_submit
from tests.api.conftest import EM, person_client
from tests.factories import (
    CatalogFactory,
    GroupFactory,
    PackageFactory,
    PolicyFactory,
    UserFactory,
    add_stage,
    group_role,
    role_holder,
)

CLOSED = "closed"  # the door does not let this person in at all (the admin, without a role)

PEOPLE = ["requestor", "target", "approver", "catalog owner", "catalog reader",
          "another catalog's owner", "outsider", "global admin"]

# The one rule, person by person: the requestor is the target's manager.
SEES = {
    "request": {"requestor", "target", "catalog owner", "catalog reader", "global admin"},
    "approval": {"approver", "catalog owner", "catalog reader", "global admin"},
    "assignment": {"requestor", "target", "catalog owner", "catalog reader", "global admin"},
}


@dataclass
class Scene:
    people: dict
    request: object

    @property
    def stage(self):
        return self.request.stages.get(order=1)


@pytest.fixture
def scene(world) -> Scene:
    """A manager's request for a direct report, waiting for the approver of its one stage."""
    package = PackageFactory(catalog=world.catalog, display_name="Laptop fleet")
    group_role(package, GroupFactory(display_name="Fleet users"))
    policy = PolicyFactory(access_package=package, display_name="Members and their managers",
                           allowed_target_scope=AllowedTargetScope.ALL_MEMBER_USERS,
                           enable_on_behalf_of_direct_reports=True)
    add_stage(policy, world.approver)
    manager = UserFactory(email="manager@access.example")
    report = UserFactory(email="report@access.example", manager=manager)
    people = {
        "requestor": manager,
        "target": report,
        "approver": world.approver,
        "catalog owner": world.owner,
        "catalog reader": role_holder(world.catalog, CatalogRole.READER,
                                      email="reader@access.example"),
        "another catalog's owner": role_holder(CatalogFactory(display_name="Elsewhere"),
                                               CatalogRole.OWNER,
                                               email="elsewhere@access.example"),
        "outsider": world.outsider,
        "global admin": UserFactory(email="admin@access.example", is_superuser=True),
    }
    request = request_submit(requestor=manager, target=report, access_package_id=package.pk)
    assert request.state == "pendingApproval"
    return Scene(people, request)


def _signed_in(person) -> Client:
    client = Client()
    client.force_login(person, backend="allauth.account.auth_backends.AuthenticationBackend")
    return client


def _admin_sees(client: Client, url: str, *, showing: str = ""):
    """True on the change page (which shows `showing`), False when the admin hides the object,
    CLOSED when it sends the person to sign in (without a role the admin is not theirs)."""
    response = client.get(url)
    if response.status_code == 200:
        assert showing in response.content.decode()
        return True
    assert response.status_code == 302, (url, response.status_code)
    return CLOSED if response["Location"].startswith(reverse("admin:login")) else False


def _api_sees(person, path: str) -> bool:
    response = person_client(person).get(path)
    assert response.status_code in (200, 404), (path, response.status_code)
    return response.status_code == 200


def _request_doors(person, scene: Scene) -> dict:
    request, client = scene.request, _signed_in(person)
    history = client.get(reverse("request_history")).content.decode()
    return {
        "page": reverse("request_cancel", args=[request.pk]) in history,
        "admin": _admin_sees(client, reverse("admin:governance_assignmentrequest_change",
                                             args=[request.pk])),
        "api": _api_sees(person, f"{EM}/assignmentRequests/{request.pk}"),
    }


def _approval_doors(person, scene: Scene) -> dict:
    request, client = scene.request, _signed_in(person)
    page = client.get(reverse("approval_detail", args=[scene.stage.pk]))
    assert page.status_code in (200, 404)
    return {
        "page": page.status_code == 200,
        # The admin shows an approval's stages on its request's page.
        "admin": _admin_sees(client, reverse("admin:governance_assignmentrequest_change",
                                             args=[request.pk]), showing="Approval stages"),
        "api": _api_sees(person, f"{EM}/accessPackageAssignmentApprovals/{request.pk}"),
    }


def _assignment_doors(person, assignment) -> dict:
    client = _signed_in(person)
    own = client.get(reverse("access_remove", args=[assignment.pk]))
    assert own.status_code in (200, 404)
    team = client.get(reverse("team")).content.decode()
    return {
        "page": own.status_code == 200 or reverse("team_remove", args=[assignment.pk]) in team,
        "admin": _admin_sees(client, reverse("admin:governance_assignment_change",
                                             args=[assignment.pk])),
        "api": _api_sees(person, f"{EM}/assignments/{assignment.pk}"),
    }


def _assert_one_answer(kind: str, answers: dict) -> None:
    """Per person: the pages and the admin together find it exactly when the API does, and
    exactly when the rule says so; the admin is closed only to people without a role."""
    for name, doors in answers.items():
        expected = name in SEES[kind]
        assert doors["api"] is expected, (kind, name, doors)
        assert (doors["page"] or doors["admin"] is True) is expected, (kind, name, doors)
        has_role = name in {"catalog owner", "catalog reader", "another catalog's owner",
                            "global admin"}
        assert (doors["admin"] == CLOSED) is not has_role, (kind, name, doors)


def test_who_sees_the_request(scene):
    answers = {name: _request_doors(scene.people[name], scene) for name in PEOPLE}
    _assert_one_answer("request", answers)
    # The requestor's and the target's own request is on their pages, not in the admin.
    assert answers["requestor"] == {"page": True, "admin": CLOSED, "api": True}
    assert answers["target"] == {"page": True, "admin": CLOSED, "api": True}
    assert answers["catalog reader"] == {"page": False, "admin": True, "api": True}


def test_who_sees_the_approval(scene):
    answers = {name: _approval_doors(scene.people[name], scene) for name in PEOPLE}
    _assert_one_answer("approval", answers)
    assert answers["approver"] == {"page": True, "admin": CLOSED, "api": True}
    # The people of the request see its progress on their request, not the approval itself.
    assert answers["requestor"] == {"page": False, "admin": CLOSED, "api": False}


def test_who_sees_the_assignment(scene):
    stage_decide(stage_id=scene.stage.pk, approver=scene.people["approver"],
                 decision=Decision.APPROVE)
    deliveries_process()
    scene.request.refresh_from_db()
    assignment = scene.request.assignment
    assert assignment.state == "delivered" and assignment.target == scene.people["target"]
    answers = {name: _assignment_doors(scene.people[name], assignment) for name in PEOPLE}
    _assert_one_answer("assignment", answers)
    # The target's manager finds it under Manage team, and by its id in the API.
    assert answers["requestor"] == {"page": True, "admin": CLOSED, "api": True}
    assert answers["another catalog's owner"] == {"page": False, "admin": False, "api": False}


def test_the_requestor_finds_and_cancels_what_they_asked_for_a_report(scene):
    manager, report = scene.people["requestor"], scene.people["target"]
    client = _signed_in(manager)
    history = client.get(reverse("request_history")).content.decode()
    assert "Laptop fleet" in history and f"for {report}" in history
    response = client.post(reverse("request_cancel", args=[scene.request.pk]))
    assert response.status_code == 302
    scene.request.refresh_from_db()
    assert scene.request.state == "canceled"
    # The target reads who asked; the catalog's people cancel in the admin, not here.
    assert f"by {manager}" in _signed_in(report).get(reverse("request_history")).content.decode()
    owner = _signed_in(scene.people["catalog owner"])
    assert owner.post(reverse("request_cancel", args=[scene.request.pk])).status_code == 404
