"""An assignment's page, removing and reprocessing; requests with their stages, canceled and
reprocessed: all through the services."""



from governance.choices import (
    AssignmentState,
    Decision,
    DeliveryState,
    RequestState,
    RequestType,
)
from governance.models import (
    Assignment,
    AssignmentRequest,
    Resource,
)
from governance.services.approvals import stage_decide
from governance.services.delivery import deliveries_process
from tests.factories import (
    submit_request,
)
from tests.pages.assignments.admin_pages import (
    LIST,
    REQUESTS,
    messages_of,
    page,
    url,
)

# Detail, remove, reprocess.

def test_the_assignment_page_shows_each_roles_delivery(as_user, manager, world, assigned):
    _, delivering = assigned
    Resource.objects.filter(catalog=world.catalog).update(connector="missing")
    deliveries_process()
    text = page(as_user(manager).get(url("assignment_change", delivering)))
    assert "Resource roles and their delivery" in text
    assert "Member of Project Falcon" in text and "Failed" in text
    assert "No connector named “missing” is configured." in text
    assert "Remove access" in text and "Reprocess" in text
    assert 'name="_save"' not in text


def test_reprocess_tries_the_failed_roles_again(as_user, manager, world, assigned):
    _, delivering = assigned
    resources = Resource.objects.filter(catalog=world.catalog)
    resources.update(connector="missing")
    deliveries_process()
    resources.update(connector="local")
    response = as_user(manager).post(url("assignment_reprocess", delivering), follow=True)
    assert "2 resource role(s) queued to be tried again now." in messages_of(response)
    assert set(delivering.deliveries.values_list("state", "attempts")) == {
        (DeliveryState.PENDING, 0)}
    deliveries_process()
    delivering.refresh_from_db()
    assert delivering.state == AssignmentState.DELIVERED


def test_remove_asks_first_then_removes(as_user, manager, assigned):
    delivered, _ = assigned
    client = as_user(manager)
    text = page(client.get(url("assignment_remove", delivered)))
    assert "Remove access now?" in text and '<label for="id_justification">' in text
    assert Assignment.objects.get(pk=delivered.pk).is_active
    response = client.post(url("assignment_remove", delivered),
                           {"justification": "Left the team"}, follow=True)
    assert any("Access removed" in message for message in messages_of(response))
    delivered.refresh_from_db()
    assert not delivered.is_active
    removal = AssignmentRequest.objects.get(assignment=delivered,
                                            request_type=RequestType.ADMIN_REMOVE)
    assert (removal.requestor, removal.justification) == (manager, "Left the team")


def test_remove_action_asks_then_removes_the_ticked_rows(as_user, manager, assigned):
    delivered, delivering = assigned
    client = as_user(manager)
    ticked = {"action": "remove_selected", "_selected_action": [delivered.pk, delivering.pk]}
    text = page(client.post(LIST, ticked))
    assert "Remove access now?" in text and "Falcon wiki for Member" in text
    assert Assignment.objects.get(pk=delivered.pk).is_active
    client.post(LIST, ticked | {"post": "yes", "justification": "Project closed"})
    assert not Assignment.objects.filter(pk__in=[delivered.pk, delivering.pk],
                                         state__in=["delivered", "delivering"]).exists()


def test_reprocess_action_reports_each_assignment(as_user, manager, assigned):
    delivered, _ = assigned
    response = as_user(manager).post(LIST, {"action": "reprocess_selected",
                                            "_selected_action": [delivered.pk]}, follow=True)
    assert any("Reprocessed: Falcon wiki for Member (0 role(s))" in message
               for message in messages_of(response))


# Requests.

def test_requests_show_their_stage_progress_and_detail(as_user, manager, world, zulu):
    request = submit_request(world)
    client = as_user(manager)
    text = page(client.get(REQUESTS))
    assert "Stage 1 of 2 · 1: in progress, 2: not started" in text
    assert "Zulu" not in text
    stage_decide(stage_id=request.stages.get(order=1).pk, approver=world.approver,
                 decision=Decision.APPROVE, justification="Known partner")
    assert "Stage 2 of 2 · 1: approved, 2: in progress" in page(client.get(REQUESTS))
    text = page(client.get(url("assignmentrequest_change", request)))
    assert "Which project code?" in text and "FAL-2026" in text
    assert "Approve by Approver" in text and "Known partner" in text
    assert "Joining the Falcon project" in text
    assert "Cancel request" in text and 'name="_save"' not in text


def test_cancel_a_pending_request(as_user, manager, world):
    request = submit_request(world)
    response = as_user(manager).post(url("assignmentrequest_cancel", request), follow=True)
    assert any("Request canceled" in message for message in messages_of(response))
    request.refresh_from_db()
    assert request.state == RequestState.CANCELED


def test_cancel_action_reports_what_cannot_be_canceled(as_user, manager, world, assigned):
    pending = submit_request(world)
    delivered = AssignmentRequest.objects.get(assignment=assigned[0])
    response = as_user(manager).post(REQUESTS, {
        "action": "cancel_selected", "_selected_action": [pending.pk, delivered.pk]},
        follow=True)
    shown = messages_of(response)
    assert any(message.startswith("Canceled: ") for message in shown)
    assert any("can no longer be canceled" in message for message in shown)
    pending.refresh_from_db()
    assert pending.state == RequestState.CANCELED


def test_reprocess_a_request_whose_delivery_failed(as_user, manager, world, assigned):
    _, delivering = assigned
    resources = Resource.objects.filter(catalog=world.catalog)
    resources.update(connector="missing")
    deliveries_process()
    request = AssignmentRequest.objects.get(assignment=delivering)
    assert request.state == RequestState.DELIVERY_FAILED
    resources.update(connector="local")
    client = as_user(manager)
    assert "Reprocess" in page(client.get(url("assignmentrequest_change", request)))
    client.post(url("assignmentrequest_reprocess", request))
    deliveries_process()
    delivering.refresh_from_db()
    request.refresh_from_db()
    assert delivering.state == AssignmentState.DELIVERED
    assert request.state == RequestState.DELIVERED
    assert "Delivered" in page(client.get(url("assignmentrequest_change", request)))
