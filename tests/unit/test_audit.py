import pytest
from django.db import DatabaseError, connection, transaction

from governance.models import AuditEvent, AuditLogIsAppendOnly
from governance.services.audit import audit_record


@pytest.fixture
def event(world):
    return audit_record(actor=world.owner, action="catalog.updated", obj=world.catalog,
                        before={"state": "unpublished"}, after={"state": "published"})


def test_recording_an_event_keeps_actor_time_and_values(world, event):
    stored = AuditEvent.objects.get(pk=event.pk)
    assert (stored.actor, stored.actor_label) == (world.owner, world.owner.email)
    assert (stored.object_type, stored.object_id) == ("catalog", str(world.catalog.pk))
    assert (stored.before, stored.after) == ({"state": "unpublished"}, {"state": "published"})


def test_saving_a_changed_event_is_refused(event):
    event.action = "catalog.deleted"
    with pytest.raises(AuditLogIsAppendOnly, match="cannot be changed"):
        event.save()
    assert AuditEvent.objects.get(pk=event.pk).action == "catalog.updated"


def test_updating_events_through_the_queryset_is_refused(event):
    with pytest.raises(AuditLogIsAppendOnly, match="cannot be changed"):
        AuditEvent.objects.filter(pk=event.pk).update(action="catalog.deleted")
    assert AuditEvent.objects.get(pk=event.pk).action == "catalog.updated"


def test_deleting_an_event_is_refused(event):
    with pytest.raises(AuditLogIsAppendOnly, match="cannot be deleted"):
        event.delete()
    with pytest.raises(AuditLogIsAppendOnly, match="cannot be deleted"):
        AuditEvent.objects.all().delete()
    assert AuditEvent.objects.filter(pk=event.pk).exists()


@pytest.mark.services
def test_raw_sql_update_and_delete_are_refused_by_the_database(event):
    table = AuditEvent._meta.db_table
    for statement in (f"UPDATE {table} SET action = 'forged' WHERE id = %s",
                      f"DELETE FROM {table} WHERE id = %s"):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), \
                connection.cursor() as cursor:
            cursor.execute(statement, [event.pk])
    assert AuditEvent.objects.get(pk=event.pk).action == "catalog.updated"
