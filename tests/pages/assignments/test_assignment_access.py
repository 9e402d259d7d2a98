"""What of another catalog is unreachable, what readers see but cannot do, and the bulk
assignment pages."""


from django.urls import reverse

from governance.choices import (
    BulkJobState,
    RequestState,
)
from governance.models import (
    BulkAssignmentJob,
)
from governance.services.bulk_assignments import bulk_assignment_run, bulk_assignment_start
from tests.factories import (
    UserFactory,
    csv_upload,
    submit_request,
)
from tests.pages.assignments.admin_pages import (
    ADD,
    EXPORT,
    LIST,
    REQUESTS,
    UPLOAD,
    csv_rows,
    page,
    url,
)

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
