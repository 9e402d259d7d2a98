"""What the buttons do: each goes through its service and says what happened."""

from django.urls import reverse

from governance.choices import AssignmentState, RequestState, StageState
from governance.models import GroupMembership
from tests.factories import UserFactory, delivered_assignment, submit_request


def test_approver_approves_under_approvals(as_user, world):
    stage = submit_request(world).stages.get(order=1)
    client = as_user(world.approver)
    listing = client.get(reverse("approval_list")).content.decode()
    assert "Requester" in listing and "Falcon collaboration" in listing
    detail = client.get(reverse("approval_detail", args=[stage.pk])).content.decode()
    assert "Joining the Falcon project" in detail and "FAL-2026" in detail
    assert "Contoso" in detail
    response = client.post(reverse("approval_detail", args=[stage.pk]),
                           {"approve": "1", "justification": "Known partner"})
    assert response.status_code == 302
    stage.refresh_from_db()
    assert stage.state == StageState.APPROVED
    history = client.get(reverse("approval_list") + "?tab=history").content.decode()
    assert "Approve" in history and "Known partner" in history


def test_approver_denies_and_the_requestor_sees_it(as_user, world):
    request = submit_request(world)
    stage = request.stages.get(order=1)
    as_user(world.approver).post(reverse("approval_detail", args=[stage.pk]),
                                 {"deny": "1", "justification": "Not on the project"})
    request.refresh_from_db()
    assert request.state == RequestState.DENIED
    history = as_user(world.requester).get(reverse("request_history")).content.decode()
    assert "Denied" in history and "Not on the project" in history and "Request again" in history


def test_a_late_decision_is_refused_with_who_decided(as_user, world):
    stage = submit_request(world).stages.get(order=1)
    stage.stage_approvers.create(user=world.owner, kind="primary")
    as_user(world.owner).post(reverse("approval_detail", args=[stage.pk]), {"approve": "1"})
    response = as_user(world.approver).post(reverse("approval_detail", args=[stage.pk]),
                                            {"deny": "1"})
    assert response.status_code == 400
    assert "already approved by Owner" in response.content.decode()
    stage.refresh_from_db()
    assert stage.state == StageState.APPROVED


def test_requestor_cancels_a_pending_request(as_user, world):
    request = submit_request(world)
    response = as_user(world.requester).post(reverse("request_cancel", args=[request.pk]))
    assert response.status_code == 302
    request.refresh_from_db()
    assert request.state == RequestState.CANCELED


def test_extend_and_remove_from_the_active_tab(as_user, world):
    assignment = delivered_assignment(world)
    client = as_user(world.requester)
    active = client.get(reverse("package_list") + "?tab=active").content.decode()
    assert "Extend" in active and "Remove access" in active
    response = client.post(reverse("access_extend", args=[assignment.pk]),
                           {"justification": "Project runs longer",
                            f"question_{world.question.pk}": "FAL-2027"})
    assert response.status_code == 302
    assert assignment.requests.filter(request_type="userUpdate").exists()
    confirm = client.get(reverse("access_remove", args=[assignment.pk]))
    assert confirm.status_code == 200
    assignment.refresh_from_db()
    assert assignment.state == AssignmentState.DELIVERED  # a GET changes nothing
    client.post(reverse("access_remove", args=[assignment.pk]))
    assignment.refresh_from_db()
    assert assignment.state == AssignmentState.EXPIRED
    assert not GroupMembership.objects.filter(user=world.requester).exists()
    # The guest held nothing else, so the tenant's lifecycle rule blocked them at once.
    assert client.get(reverse("package_list")).status_code == 302


def test_expired_tab_lists_ended_access_with_request_again(as_user, world):
    from governance.models import TenantSettings

    TenantSettings.objects.update_or_create(id=1, defaults={
        "external_user_lifecycle_action": "none"})
    assignment = delivered_assignment(world)
    client = as_user(world.requester)
    client.post(reverse("access_remove", args=[assignment.pk]))
    expired = client.get(reverse("package_list") + "?tab=expired").content.decode()
    assert "Falcon collaboration" in expired and "Request again" in expired


def test_extension_without_a_required_justification_is_refused_beside_the_field(as_user, world):
    assignment = delivered_assignment(world)
    response = as_user(world.requester).post(reverse("access_extend", args=[assignment.pk]),
                                             {"justification": ""})
    assert response.status_code == 400
    assert 'id="id_justification_error"' in response.content.decode()
    assert not assignment.requests.filter(request_type="userUpdate").exists()


def test_manager_removes_a_direct_reports_access(as_user, world):
    assignment = delivered_assignment(world)
    manager = UserFactory(email="manager@access.example")
    world.requester.manager = manager
    world.requester.save()
    client = as_user(manager)
    team = client.get(reverse("team")).content.decode()
    assert "Requester" in team and "Falcon collaboration" in team
    client.post(reverse("team_remove", args=[assignment.pk]))
    assignment.refresh_from_db()
    assert (assignment.state, assignment.end_reason) == (AssignmentState.EXPIRED,
                                                         "removedByManager")


def test_dates_are_shown_in_the_persons_time_zone(as_user, world):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    import time_machine

    with time_machine.travel(datetime(2026, 3, 1, 23, 30, tzinfo=ZoneInfo("UTC")), tick=False):
        submit_request(world)
    world.requester.time_zone = "Asia/Tokyo"
    world.requester.save()
    history = as_user(world.requester).get(reverse("request_history")).content.decode()
    assert "2 Mar 2026, 08:30" in history  # 23:30 UTC is 08:30 the next day in Tokyo


def test_search_as_you_type_returns_only_the_results(as_user, world):
    from tests.factories import open_package

    open_package(world)
    client = as_user(world.requester)
    response = client.get(reverse("package_list") + "?tab=available&q=wiki",
                          headers={"HX-Request": "true"})
    html = response.content.decode()
    assert "<html" not in html and "Falcon wiki" in html
    assert "Falcon collaboration" not in html
    full = client.get(reverse("package_list") + "?q=wiki").content.decode()
    assert "<html" in full and "Falcon wiki" in full  # without JavaScript, the same search


def test_without_a_stored_zone_dates_follow_the_browsers(as_user, world):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    import time_machine

    with time_machine.travel(datetime(2026, 3, 1, 23, 30, tzinfo=ZoneInfo("UTC")), tick=False):
        submit_request(world)
    client = as_user(world.requester)
    client.cookies["tz"] = "America/New_York"
    assert "1 Mar 2026, 18:30" in client.get(reverse("request_history")).content.decode()
    client.cookies["tz"] = "Not/AZone"
    assert "1 Mar 2026, 23:30" in client.get(reverse("request_history")).content.decode()


def test_a_guest_is_warned_before_removing_the_last_access(as_user, world):
    assignment = delivered_assignment(world)
    page = as_user(world.requester).get(reverse("access_remove", args=[assignment.pk]))
    html = page.content.decode()
    assert "This is your last access package" in html and "deleted after 30 days" in html


def test_a_member_is_not_warned_about_sign_in(as_user, world):
    from tests.factories import open_package

    package, _ = open_package(world)
    assignment = request_submit_for(world.member, package)
    page = as_user(world.member).get(reverse("access_remove", args=[assignment.pk]))
    assert "last access package" not in page.content.decode()


def test_a_missing_page_keeps_the_portals_layout(as_user, world, settings):
    settings.DEBUG = False
    response = as_user(world.requester).get("/access-packages/999999/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "Not found" in html and "Access packages" in html  # the navigation is there


def request_submit_for(person, package):
    from governance.services.delivery import deliveries_process
    from governance.services.requests import request_submit

    assignment = request_submit(requestor=person, access_package_id=package.pk).assignment
    deliveries_process()
    return assignment
