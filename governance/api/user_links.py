"""A user's manager and sponsors, read as directoryObjects and set by reference, as Graph does::

    GET    users/{id}/manager                       the manager, or 404 when there is none
    PUT    users/{id}/manager/$ref                  {"@odata.id": "https://…/v1.0/users/7"}
    DELETE users/{id}/manager/$ref
    GET    users/{id}/sponsors                      a collection of directoryObjects
    POST   users/{id}/sponsors/$ref                 {"@odata.id": "https://…/v1.0/users/7"}
    DELETE users/{id}/sponsors/{sponsorId}/$ref

Each change is services.people.person_update (``manager_id``, ``sponsor_ids``), which checks
who may change the person, refuses a cycle of managers and what a provisioning client keeps,
and re-routes the pending manager approvals to a new manager. Writes take User.ReadWrite.All.
A manager or sponsor the caller does not see is, to them, no manager or sponsor at all.
"""

from django.urls import path

from governance.choices import AccountState
from governance.models import User
from governance.selectors.visibility import users_visible_to
from governance.services.errors import InvalidInput, NotFound
from governance.services.people import person_sponsor_add, person_sponsor_remove, person_update

from . import permissions
from .base import GraphView
from .directory import DIRECTORY_OBJECT, user_or_404
from .errors import GraphError
from .organization_json import referenced_user_id

DIRECTORY_OBJECTS = "directoryObjects"


def _not_present(name: str) -> GraphError:
    """Graph's 404 for a reference that names nothing (or a manager that is not set)."""
    return GraphError(f"Resource '{name}' does not exist or one of its queried "
                      "reference-property objects are not present.",
                      code="Request_ResourceNotFound", status=404)


def _referenced_person(request, body: dict) -> User:
    """The person a $ref body's @odata.id names, among those the caller sees."""
    person_id = referenced_user_id(body)
    person = users_visible_to(request.user).exclude(account_state=AccountState.DELETED) \
        .filter(pk=person_id).first()
    if person is None:
        raise _not_present(str(person_id))
    return person


class Manager(GraphView):
    graph_type = DIRECTORY_OBJECT
    graph_permissions = permissions.USERS

    def get(self, request, user_id):
        """Get the user's manager"""
        person = user_or_404(request, user_id)
        manager = None if person.manager_id is None else \
            users_visible_to(request.user).filter(pk=person.manager_id).first()
        if manager is None:
            raise _not_present("manager")
        return self.entity(manager, DIRECTORY_OBJECT, DIRECTORY_OBJECTS)


class ManagerReference(GraphView):
    body_properties = ("@odata.id",)
    graph_permissions = permissions.USERS

    def put(self, request, user_id):
        """Assign the user's manager"""
        person = user_or_404(request, user_id)
        manager = _referenced_person(request, self.body())
        person_update(actor=request.user, user_id=person.pk, changes={"manager_id": manager.pk})
        return self.no_content()

    def delete(self, request, user_id):
        """Remove the user's manager"""
        person = user_or_404(request, user_id)
        if person.manager_id is None:
            raise _not_present("manager")
        person_update(actor=request.user, user_id=person.pk, changes={"manager_id": None})
        return self.no_content()


class Sponsors(GraphView):
    graph_type, is_collection = DIRECTORY_OBJECT, True
    graph_permissions = permissions.USERS

    def get(self, request, user_id):
        """List the user's sponsors"""
        person = user_or_404(request, user_id)
        sponsors = users_visible_to(request.user).filter(
            pk__in=person.sponsors.values("pk")).order_by("display_name", "email", "id")
        return self.collection(sponsors, DIRECTORY_OBJECT, DIRECTORY_OBJECTS)


class SponsorReferences(GraphView):
    body_properties = ("@odata.id",)
    graph_permissions = permissions.USERS

    def post(self, request, user_id):
        """Add a sponsor"""
        person = user_or_404(request, user_id)
        sponsor = _referenced_person(request, self.body())
        try:
            person_sponsor_add(actor=request.user, user_id=person.pk, sponsor_id=sponsor.pk)
        except InvalidInput as refused:
            if refused.code != "sponsorExists":
                raise
            raise GraphError("One or more added object references already exist for the "
                             "following modified properties: 'sponsors'.",
                             code="Request_BadRequest") from None
        return self.no_content()


class SponsorRemove(GraphView):
    graph_permissions = permissions.USERS

    def delete(self, request, user_id, sponsor_id):
        """Remove a sponsor"""
        person = user_or_404(request, user_id)
        try:
            person_sponsor_remove(actor=request.user, user_id=person.pk, sponsor_id=sponsor_id)
        except NotFound:
            raise _not_present(str(sponsor_id)) from None
        return self.no_content()


_ONE = "users/<str:user_id>"

urlpatterns = [
    path(f"{_ONE}/manager", Manager.as_view()),
    path(f"{_ONE}/manager/$ref", ManagerReference.as_view()),
    path(f"{_ONE}/sponsors", Sponsors.as_view()),
    path(f"{_ONE}/sponsors/$ref", SponsorReferences.as_view()),
    path(f"{_ONE}/sponsors/<str:sponsor_id>/$ref", SponsorRemove.as_view()),
]
