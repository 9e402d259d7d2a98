"""The audit log in the admin: global administrators read and filter it; nobody can add,
change or delete an entry, in the admin or otherwise."""

from datetime import UTC, datetime

import pytest
import time_machine
from django.db import DatabaseError, connection, transaction
from django.urls import reverse

from governance.choices import CatalogRole, GlobalRole
from governance.models import (
    AuditEvent,
    AuditLogIsAppendOnly,
    GlobalRoleAssignment,
)
from governance.services.audit import audit_record
from tests.factories import UserFactory, role_holder

LIST = reverse("admin:governance_auditevent_changelist")


def _change(event):
    return reverse("admin:governance_auditevent_change", args=[event.pk])


@pytest.fixture
def administrator(world):
    return UserFactory(email="global@access.example", is_superuser=True)


@pytest.fixture
def events(world, administrator):
    with time_machine.travel(datetime(2026, 3, 2, 9, 0, tzinfo=UTC), tick=False):
        published = audit_record(actor=world.owner, action="catalog.updated", obj=world.catalog,
                                 before={"state": "unpublished"},
                                 after={"state": "published", "name": "Projets “Falcon”"},
                                 details={"reason": "Launch"})
    with time_machine.travel(datetime(2026, 4, 6, 9, 0, tzinfo=UTC), tick=False):
        changed = audit_record(actor=administrator, action="connectedOrganization.changed",
                               obj=world.organization, before={"state": "proposed"},
                               after={"state": "configured"})
        swept = audit_record(actor=None, action="user.blocked", obj=world.requester)
    return published, changed, swept


def test_the_list_shows_when_who_what_and_which_object(as_user, administrator, events):
    published, changed, swept = events
    page = as_user(administrator).get(LIST).content.decode()
    assert "owner@access.example" in page and "global@access.example" in page
    assert "system" in page
    assert "catalog.updated" in page and "connectedOrganization.changed" in page
    assert page.index("connectedOrganization.changed") < page.index("catalog.updated")
    assert f'href="{_change(published)}' in page


def test_filters_search_and_date_hierarchy(as_user, administrator, events, world):
    published, changed, swept = events
    client = as_user(administrator)

    def shown(query):
        return {event.pk for event in client.get(LIST + query).context["cl"].result_list}

    assert shown("?action=catalog.updated") == {published.pk}
    assert shown("?object_type=connectedorganization") == {changed.pk}
    assert shown("?at__year=2026&at__month=3") == {published.pk}
    assert shown("?q=owner@access") == {published.pk}
    assert shown(f"?q={world.requester.pk}") >= {swept.pk}
    page = client.get(LIST).content.decode()
    assert "By action" in page and "By object type" in page
    assert "at__year=2026" in page or "at__month" in page


def test_an_entry_shows_its_values_pretty_printed_and_read_only(as_user, administrator,
                                                                events, world):
    published = events[0]
    response = as_user(administrator).get(_change(published))
    assert response.status_code == 200
    page = response.content.decode()
    assert '<pre class="audit-json">{\n  &quot;name&quot;: &quot;Projets “Falcon”&quot;,' \
           in page
    assert "&quot;reason&quot;: &quot;Launch&quot;" in page
    assert 'name="_save"' not in page and "deletelink" not in page
    # The entry links to its object's admin page.
    page = as_user(administrator).get(_change(events[1])).content.decode()
    organization_url = reverse("admin:governance_connectedorganization_change",
                               args=[world.organization.pk])
    assert f'<a href="{organization_url}">connected organization' in page


def test_adding_changing_and_deleting_are_refused_in_the_admin(as_user, administrator,
                                                               events):
    published = events[0]
    client = as_user(administrator)
    before = list(AuditEvent.objects.order_by("id").values())
    add = reverse("admin:governance_auditevent_add")
    delete = reverse("admin:governance_auditevent_delete", args=[published.pk])
    assert client.get(add).status_code == 403
    assert client.post(add, {"action": "forged", "object_type": "catalog", "object_id": "1",
                             "actor_label": "someone", "at": "2026-01-01"}).status_code == 403
    assert client.post(_change(published), {"action": "forged"}).status_code == 403
    assert client.get(delete).status_code == 403
    assert client.post(delete, {"post": "yes"}).status_code == 403
    # No "delete selected" action, not even posted by hand.
    page = client.get(LIST).content.decode()
    assert 'name="action"' not in page and "delete_selected" not in page
    response = client.post(LIST, {"action": "delete_selected", "post": "yes",
                                  "_selected_action": [published.pk], "index": 0})
    assert response.status_code in {200, 302}
    assert list(AuditEvent.objects.order_by("id").values()) == before


def test_changing_or_deleting_an_entry_is_refused_outside_the_admin(events):
    published = events[0]
    published.action = "forged"
    with pytest.raises(AuditLogIsAppendOnly):
        published.save()
    with pytest.raises(AuditLogIsAppendOnly):
        published.delete()
    with pytest.raises(AuditLogIsAppendOnly):
        AuditEvent.objects.filter(pk=published.pk).update(action="forged")
    with pytest.raises(AuditLogIsAppendOnly):
        AuditEvent.objects.all().delete()
    assert AuditEvent.objects.get(pk=published.pk).action == "catalog.updated"


@pytest.mark.services
def test_the_database_refuses_changes_that_go_around_django(events):
    published = events[0]
    table = AuditEvent._meta.db_table
    for statement in (f"UPDATE {table} SET action = 'forged' WHERE id = %s",
                      f"DELETE FROM {table} WHERE id = %s"):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), \
                connection.cursor() as cursor:
            cursor.execute(statement, [published.pk])
    assert AuditEvent.objects.get(pk=published.pk).action == "catalog.updated"


@pytest.mark.parametrize("role", ["catalog owner", "catalog reader",
                                  "connected organization admin"])
def test_other_roles_cannot_see_the_audit_log(as_user, events, world, role):
    if role == "catalog owner":
        person = world.owner
    elif role == "catalog reader":
        person = role_holder(world.catalog, CatalogRole.READER, email="reader@access.example")
    else:
        person = UserFactory(email="partners@access.example")
        GlobalRoleAssignment.objects.create(user=person, role=GlobalRole.CONNECTED_ORG_ADMIN)
    client = as_user(person)
    assert client.get(LIST).status_code == 403
    assert client.get(_change(events[0])).status_code == 403
    assert ">Audit events<" not in client.get(reverse("admin:index")).content.decode()


def test_people_without_a_role_have_no_audit_log(client, as_user, events, world):
    for who in (client, as_user(world.member)):
        response = who.get(LIST)
        assert response.status_code == 302
        assert response.headers["Location"].startswith(("/accounts/login/", "/admin/login/"))
