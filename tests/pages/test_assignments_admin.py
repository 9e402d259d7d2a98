"""Assignments, requests and bulk assignment in the delegated admin, for the people of one
catalog (Projects): the assignment manager acts, the reader only reads, and nothing of the
other catalog (Zulu) is visible or reachable by URL."""

import csv
import io
from datetime import timedelta

import pytest
from django.urls import reverse

from governance import clock
from governance.choices import (
    AssignmentState,
    BulkJobState,
    CatalogRole,
    Decision,
    DeliveryState,
    RequestState,
    RequestType,
)
from governance.models import (
    Assignment,
    AssignmentRequest,
    BulkAssignmentJob,
    Resource,
)
from governance.services.approvals import stage_decide
from governance.services.bulk_assignments import bulk_assignment_run, bulk_assignment_start
from governance.services.delivery import deliveries_process
from governance.services.requests import request_admin_add, request_submit
from tests.factories import (
    CatalogFactory,
    GroupFactory,
    PackageFactory,
    PolicyFactory,
    UserFactory,
    csv_upload,
    group_role,
    open_package,
    role_holder,
    submit_request,
)

LIST = reverse("admin:governance_assignment_changelist")
ADD = reverse("admin:governance_assignment_add")
EXPORT = reverse("admin:governance_assignment_export")
REQUESTS = reverse("admin:governance_assignmentrequest_changelist")
UPLOAD = reverse("admin:governance_bulkassignmentjob_add")


def url(name: str, obj) -> str:
    return reverse(f"admin:governance_{name}", args=[obj.pk])


def page(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def csv_rows(response) -> list[list[str]]:
    assert response["Content-Type"].startswith("text/csv"), response.status_code
    text = response.content.decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


@pytest.fixture
def wiki(world):
    return open_package(world)


@pytest.fixture
def zulu(world):
    """Another catalog, with a delivered assignment and a pending request."""
    catalog = CatalogFactory(display_name="Zulu catalog")
    owner = role_holder(catalog, CatalogRole.OWNER, email="zulu.owner@access.example")
    package = PackageFactory(catalog=catalog, display_name="Zulu package")
    group_role(package, GroupFactory(display_name="Zulu group"))
    policy = PolicyFactory(access_package=package, display_name="Zulu policy")
    person = UserFactory(email="zulu.person@access.example", display_name="Zulu Person")
    added = request_admin_add(actor=owner, access_package_id=package.pk, policy_id=policy.pk,
                              target=person)
    deliveries_process(assignment_ids=[added.assignment_id])
    approval = PolicyFactory(access_package=package, display_name="Zulu approval",
                             allowed_target_scope="allMemberUsers",
                             is_approval_required_for_add=True)
    approval.stages.create(order=1)
    waiting = UserFactory(email="zulu.waiting@access.example", display_name="Zulu Waiting")
    pending = request_submit(requestor=waiting, access_package_id=package.pk)
    added.refresh_from_db()
    return {"package": package, "policy": policy, "assignment": added.assignment,
            "request": pending}


@pytest.fixture
def manager(world):
    return role_holder(world.catalog, CatalogRole.ASSIGNMENT_MANAGER,
                       email="assignments@access.example", display_name="Assignment Manager")


@pytest.fixture
def reader(world):
    return role_holder(world.catalog, CatalogRole.READER, email="reader@access.example",
                       display_name="Catalog Reader")


@pytest.fixture
def assigned(world, wiki):
    """The member holds the wiki, delivered; the outsider holds Falcon, still delivering."""
    package, policy = wiki
    member = request_admin_add(actor=world.owner, access_package_id=package.pk,
                               policy_id=policy.pk, target=world.member)
    deliveries_process()
    outsider = request_admin_add(actor=world.owner, access_package_id=world.package.pk,
                                 policy_id=world.policy.pk, target=world.outsider)
    member.refresh_from_db()
    return member.assignment, outsider.assignment


# Listing, filtering, exporting.

def test_the_list_shows_the_catalogs_assignments_only(as_user, manager, assigned, zulu):
    text = page(as_user(manager).get(LIST))
    assert "member@access.example" in text and "outsider@fabrikam.example" in text
    assert "Falcon wiki" in text and "Fabrikam" in text  # the organisation column
    assert "Zulu" not in text
    assert "Assign directly" in text and "Export CSV" in text


def test_filters_by_state_package_and_expiry(as_user, manager, world, assigned, zulu):
    delivered, delivering = assigned
    client = as_user(manager)
    text = page(client.get(LIST, {"state": AssignmentState.DELIVERED}))
    assert "member@access.example" in text and "outsider@fabrikam.example" not in text
    text = page(client.get(LIST, {"access_package__id__exact": world.package.pk}))
    assert "outsider@fabrikam.example" in text and "member@access.example" not in text
    Assignment.objects.filter(pk=delivered.pk).update(expires_at=clock.now() + timedelta(days=5))
    Assignment.objects.filter(pk=delivering.pk).update(
        expires_at=clock.now() + timedelta(days=60))
    text = page(client.get(LIST, {"expiring_within": "7"}))
    assert "member@access.example" in text and "outsider@fabrikam.example" not in text
    text = page(client.get(LIST, {"expiring_within": "90"}))
    assert "member@access.example" in text and "outsider@fabrikam.example" in text
    # The filters offer only this catalog's packages and policies.
    assert "Zulu" not in text and "Within 30 days" in text


def test_search_by_email_or_name(as_user, manager, assigned, zulu):
    client = as_user(manager)
    text = page(client.get(LIST, {"q": "outsider"}))
    assert "outsider@fabrikam.example" in text and "member@access.example" not in text
    assert "Zulu Person" not in page(client.get(LIST, {"q": "Zulu"}))


def test_export_is_the_filtered_list_in_csv(as_user, manager, world, assigned, zulu):
    client = as_user(manager)
    response = client.get(EXPORT)
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = csv_rows(response)
    assert rows[0][:3] == ["Person", "Email", "Organisation"]
    assert sorted(row[1] for row in rows[1:]) == ["member@access.example",
                                                  "outsider@fabrikam.example"]
    filtered = csv_rows(client.get(EXPORT, {"access_package__id__exact": world.package.pk}))
    assert [(row[1], row[2], row[3], row[4]) for row in filtered[1:]] == [
        ("outsider@fabrikam.example", "Fabrikam", "Falcon collaboration", "Projects")]
    # The list's link carries its filters to the export.
    text = page(client.get(LIST, {"state": AssignmentState.DELIVERED}))
    assert f'href="{EXPORT}?state=delivered"' in text


def test_export_defuses_spreadsheet_formulas(as_user, manager, world, wiki):
    package, policy = wiki
    sly = UserFactory(email="sly@access.example", display_name="=HYPERLINK(\"x\")")
    request_admin_add(actor=world.owner, access_package_id=package.pk, policy_id=policy.pk,
                      target=sly)
    rows = csv_rows(as_user(manager).get(EXPORT))
    assert rows[1][0] == "'=HYPERLINK(\"x\")"


def test_list_queries_do_not_grow_with_the_rows(as_user, manager, world, wiki,
                                                django_assert_max_num_queries):
    package, policy = wiki
    client = as_user(manager)
    for n in range(3):
        request_admin_add(actor=world.owner, access_package_id=package.pk,
                          policy_id=policy.pk, target=UserFactory(email=f"few{n}@access.example"))
    client.get(LIST)
    with django_assert_max_num_queries(20) as few:
        page(client.get(LIST))
    for n in range(30):
        request_admin_add(actor=world.owner, access_package_id=package.pk,
                          policy_id=policy.pk, target=UserFactory(email=f"many{n}@access.example"))
    with django_assert_max_num_queries(len(few.captured_queries)):
        page(client.get(LIST))


# Assigning directly.

def test_assign_directly_offers_only_the_catalogs_packages(as_user, manager, wiki, zulu):
    text = page(as_user(manager).get(ADD))
    assert "Falcon wiki" in text and "Falcon collaboration: Contoso partners" in text
    assert "Zulu" not in text
    assert '<label for="id_email">' in text


def test_assign_directly_creates_the_assignment_through_the_service(as_user, manager, wiki):
    package, policy = wiki
    person = UserFactory(email="new.joiner@access.example")
    response = as_user(manager).post(ADD, {
        "access_package": package.pk, "policy": policy.pk, "email": "New.Joiner@access.example",
        "justification": "Joins the wiki team"})
    request = AssignmentRequest.objects.get(target=person)
    assert (request.request_type, request.requestor, request.justification) == (
        RequestType.ADMIN_ADD, manager, "Joins the wiki team")
    assert response.status_code == 302
    assert response["Location"] == url("assignment_change", request.assignment)


def test_assign_directly_shows_the_services_refusal_and_saves_nothing(as_user, manager, world,
                                                                      wiki):
    package, policy = wiki
    auditors = GroupFactory(display_name="Auditors")
    auditors.members.add(world.member)
    package.incompatible_groups.add(auditors)
    response = as_user(manager).post(ADD, {"access_package": package.pk, "policy": policy.pk,
                                           "email": world.member.email})
    text = page(response)
    assert "Members of the group “Auditors” cannot hold “Falcon wiki”" in text
    assert not AssignmentRequest.objects.filter(target=world.member).exists()


def test_assign_directly_refuses_unknown_people_and_mismatched_policies(as_user, manager,
                                                                       world, wiki):
    package, _ = wiki
    client = as_user(manager)
    text = page(client.post(ADD, {"access_package": package.pk, "policy": world.policy.pk,
                                  "email": "nobody@access.example"}))
    assert "No one with this email address is in the directory." in text
    assert "Select a valid choice" in text  # the policy of another package is not offered
    assert not AssignmentRequest.objects.exists()


def test_assign_directly_cannot_reach_another_catalogs_package(as_user, manager, world, zulu):
    response = as_user(manager).post(ADD, {
        "access_package": zulu["package"].pk, "policy": zulu["policy"].pk,
        "email": world.member.email})
    assert "Select a valid choice" in page(response)
    assert not AssignmentRequest.objects.filter(target=world.member).exists()


def test_assign_directly_under_a_policy_without_schedules_refuses_dates(as_user, manager,
                                                                        world, wiki):
    package, policy = wiki
    text = page(as_user(manager).post(ADD, {
        "access_package": package.pk, "policy": policy.pk, "email": world.member.email,
        "end_at": "2099-01-01T09:00"}))
    assert "does not let you choose when access starts or ends" in text
    assert not AssignmentRequest.objects.filter(target=world.member).exists()


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


# Another catalog: not visible, not reachable.

def test_another_catalogs_objects_are_unreachable_by_url(as_user, manager, world, zulu):
    client = as_user(manager)
    assignment, request = zulu["assignment"], zulu["request"]
    for name, obj in (("assignment_change", assignment), ("assignment_remove", assignment),
                      ("assignment_history", assignment),
                      ("assignmentrequest_change", request),
                      ("assignmentrequest_history", request)):
        response = client.get(url(name, obj))
        assert response.status_code in {302, 404}, name
        assert "Zulu" not in response.content.decode()
    for name, obj in (("assignment_remove", assignment), ("assignment_reprocess", assignment),
                      ("assignmentrequest_cancel", request),
                      ("assignmentrequest_reprocess", request)):
        assert client.post(url(name, obj)).status_code in {302, 404}, name
    client.post(LIST, {"action": "remove_selected", "_selected_action": [assignment.pk],
                       "post": "yes"})
    client.post(REQUESTS, {"action": "cancel_selected", "_selected_action": [request.pk]})
    assignment.refresh_from_db()
    request.refresh_from_db()
    assert assignment.is_active and request.state == RequestState.PENDING_APPROVAL
    assert all("Zulu" not in ",".join(row) for row in csv_rows(client.get(EXPORT)))


# Readers see, but cannot act.

def test_readers_see_but_cannot_act(as_user, reader, world, assigned):
    delivered, _ = assigned
    request = submit_request(world)
    client = as_user(reader)
    text = page(client.get(LIST))
    assert "member@access.example" in text
    assert "Assign directly" not in text and "remove_selected" not in text
    assert csv_rows(client.get(EXPORT))[1:]
    detail = page(client.get(url("assignment_change", delivered)))
    assert "Resource roles and their delivery" in detail and "Remove access" not in detail
    assert "Cancel request" not in page(client.get(url("assignmentrequest_change", request)))
    assert client.get(ADD).status_code == 403
    assert client.get(UPLOAD).status_code == 403
    assert client.get(url("assignment_remove", delivered)).status_code == 403
    assert client.post(url("assignment_remove", delivered)).status_code == 403
    assert client.post(url("assignment_reprocess", delivered)).status_code == 403
    assert client.post(url("assignmentrequest_cancel", request)).status_code == 403
    client.post(LIST, {"action": "remove_selected", "_selected_action": [delivered.pk],
                       "post": "yes"})
    client.post(REQUESTS, {"action": "cancel_selected", "_selected_action": [request.pk]})
    delivered.refresh_from_db()
    request.refresh_from_db()
    assert delivered.is_active and request.state == RequestState.PENDING_APPROVAL


# Bulk assignment pages.

def test_upload_page_refuses_a_file_that_is_not_csv(as_user, manager, wiki):
    package, policy = wiki
    upload = csv_upload(b"PK\x03\x04", "people.xlsx", content_type="application/zip")
    text = page(as_user(manager).post(UPLOAD, {"access_package": package.pk,
                                               "policy": policy.pk, "file": upload}))
    assert "“people.xlsx” is not a CSV file." in text
    assert not BulkAssignmentJob.objects.exists()


def test_upload_then_follow_the_job_and_download_its_report(as_user, manager, world, wiki,
                                                            zulu):
    package, policy = wiki
    client = as_user(manager)
    form = page(client.get(UPLOAD))
    assert "Falcon wiki" in form and "Zulu" not in form
    people = [UserFactory(email=f"bulk{n}@access.example") for n in range(3)]
    text = "email\n" + "\n".join(p.email for p in people) + "\nghost@access.example\n"
    response = client.post(UPLOAD, {
        "access_package": package.pk, "policy": policy.pk, "justification": "Wiki rollout",
        "file": csv_upload(text, "wiki.csv")})
    job = BulkAssignmentJob.objects.get()
    assert response["Location"] == url("bulkassignmentjob_change", job)
    queued = page(client.get(url("bulkassignmentjob_change", job)))
    assert "hx-trigger=\"every 2s\"" in queued and "0 of 4 rows processed" in queued
    bulk_assignment_run(job_id=job.pk)
    done = page(client.get(url("bulkassignmentjob_progress", job)))
    assert "hx-trigger" not in done  # done: the page stops asking
    assert "4 of 4 rows processed: 3 assigned, 1 rejected." in done
    assert "ghost@access.example" in done and "No one with this email address" in done
    report = csv_rows(client.get(url("bulkassignmentjob_report", job)))
    assert report == [["Line", "Email", "Outcome", "Code", "Reason"],
                      ["5", "ghost@access.example", "Rejected", "unknownPerson",
                       "No one with this email address is in the directory."]]
    assert job.created_by == manager
    assert BulkAssignmentJob.objects.get().state == BulkJobState.DONE
    jobs = page(client.get(reverse("admin:governance_bulkassignmentjob_changelist")))
    assert "wiki.csv" in jobs and "4 of 4" in jobs


def test_another_catalogs_jobs_are_unreachable(as_user, manager, world, zulu):
    zulu_owner = UserFactory(email="zulu.owner@access.example")
    upload = csv_upload("email\nmember@access.example\n", "zulu.csv")
    job = bulk_assignment_start(actor=zulu_owner, access_package_id=zulu["package"].pk,
                                policy_id=zulu["policy"].pk, upload=upload)
    client = as_user(manager)
    assert "zulu.csv" not in page(client.get(
        reverse("admin:governance_bulkassignmentjob_changelist")))
    for name in ("bulkassignmentjob_change", "bulkassignmentjob_progress",
                 "bulkassignmentjob_report"):
        response = client.get(url(name, job))
        assert response.status_code in {302, 404}, name
