"""Bulk assignment from a CSV file: what an upload must be, and what becomes of each row."""

from datetime import datetime, timedelta
from unittest import mock

import pytest
import time_machine
from django.utils import timezone

from governance import clock, tasks
from governance.choices import (
    AssignmentState,
    BulkJobState,
    BulkRowOutcome,
    CatalogRole,
    RequestType,
)
from governance.models import (
    Assignment,
    AssignmentRequest,
    AuditEvent,
    BulkAssignmentJob,
    BulkAssignmentRow,
    CatalogRoleAssignment,
)
from governance.services import bulk_assignments
from governance.services.bulk_assignments import (
    MAX_BYTES,
    MAX_ROWS,
    bulk_assignment_run,
    bulk_assignment_start,
    bulk_assignments_resume,
)
from governance.services.delivery import deliveries_process
from governance.services.errors import InvalidInput, NotAllowed
from governance.services.requests import request_admin_add
from tests.factories import (
    CatalogFactory,
    GroupFactory,
    PackageFactory,
    PolicyFactory,
    UserFactory,
    csv_upload,
    open_package,
    role_holder,
)


@pytest.fixture
def wiki(world):
    """"Falcon wiki" under a policy for everyone, no approval."""
    return open_package(world)


def start(world, wiki, upload, actor=None, **options):
    package, policy = wiki
    return bulk_assignment_start(actor=actor or world.owner, access_package_id=package.pk,
                                 policy_id=policy.pk, upload=upload, **options)


def people(count: int, prefix: str = "person") -> list:
    return [UserFactory(email=f"{prefix}{n}@access.example") for n in range(count)]


def rows_of(job) -> dict[int, tuple[str, str, str]]:
    return {row.line: (row.email, row.outcome, row.code) for row in job.rows.all()}


# What an upload must be: refused as a whole, nothing written.

@pytest.mark.parametrize(("upload", "code", "words"), [
    (lambda: csv_upload("email\nmember@access.example\n", name="people.xlsx",
                      content_type="application/vnd.ms-excel"),
     "notCsv", "not a CSV file"),
    (lambda: csv_upload(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", name="photo.csv"),
     "notCsv", "binary data"),
    (lambda: csv_upload("email\nzoë@access.example\n".encode("latin-1")),
     "notCsv", "not UTF-8"),
    (lambda: csv_upload("email\n" + "x" * MAX_BYTES), "fileTooLarge", "too large"),
    (lambda: csv_upload("email\n" + "".join(f"p{n}@access.example\n"
                                          for n in range(MAX_ROWS + 1))),
     "tooManyRows", "more than 10,000 rows"),
    (lambda: csv_upload("name,mail\nAda,ada@access.example\n"), "noEmailColumn", "“email”"),
    (lambda: csv_upload(""), "noEmailColumn", "empty"),
    (lambda: csv_upload("email,start\n\n"), "noRows", "no rows"),
    (lambda: csv_upload('email\n"unterminated@access.example\n'), "notCsv", "line"),
])
def test_an_upload_that_is_not_a_usable_csv_is_refused_and_nothing_written(
        world, wiki, assert_refused, upload, code, words):
    refusal = assert_refused(lambda: start(world, wiki, upload()), InvalidInput, code, words)
    assert refusal.field == "file"
    assert not BulkAssignmentJob.objects.exists() and not BulkAssignmentRow.objects.exists()


def test_the_missing_column_message_names_the_columns_found(world, wiki):
    with pytest.raises(InvalidInput) as caught:
        start(world, wiki, csv_upload("Name,Mail\nAda,ada@access.example\n"))
    assert "found “Name”, “Mail”" in str(caught.value)
    assert "start, end, justification" in str(caught.value)


def test_someone_without_a_role_on_the_catalog_cannot_upload(world, wiki, assert_refused):
    assert_refused(lambda: start(world, wiki, csv_upload("email\nmember@access.example\n"),
                                 actor=world.approver),
                   NotAllowed, "notAllowed", "may not assign")


def test_a_reader_cannot_upload(world, wiki, assert_refused):
    reader = role_holder(world.catalog, CatalogRole.READER, email="reader@access.example")
    assert_refused(lambda: start(world, wiki, csv_upload("email\nmember@access.example\n"),
                                 actor=reader),
                   NotAllowed, "notAllowed", "may not assign")


def test_a_policy_of_another_package_is_refused(world, wiki, assert_refused):
    package, _ = wiki
    assert_refused(lambda: start(world, (package, world.policy),
                                 csv_upload("email\nmember@access.example\n")),
                   InvalidInput, "policyNotFound", "policy of this access package")


def test_a_csv_with_another_content_type_but_a_csv_name_is_accepted(world, wiki):
    job = start(world, wiki, csv_upload("email\nmember@access.example\n",
                                      content_type="application/octet-stream"))
    assert job.total == 1


# Rows: the good ones assigned, each bad one reported with its line and reason.

def test_good_rows_are_assigned_and_each_bad_row_is_reported_with_line_and_reason(world, wiki):
    package, policy = wiki
    good = people(3)
    auditors = GroupFactory(display_name="Auditors")
    conflicted = UserFactory(email="conflicted@access.example")
    auditors.members.add(conflicted)
    package.incompatible_groups.add(auditors)
    holder = UserFactory(email="holder@access.example")
    request_admin_add(actor=world.owner, access_package_id=package.pk, policy_id=policy.pk,
                      target=holder)
    deliveries_process()
    text = (
        "Email,Justification\n"                                   # line 1
        f"{good[0].email},Project work\n"                         # 2
        "nobody@access.example,\n"                                # 3: unknown
        "\n"                                                      # 4: blank, skipped
        f"{good[1].email.upper()},\"Two\nlines\"\n"               # 5-6
        "not-an-email,\n"                                         # 7
        f"{conflicted.email},\n"                                  # 8: separation of duties
        f"{holder.email},\n"                                      # 9: already assigned
        f"{good[0].email},again\n"                                # 10: same person twice
        f"{good[2].email},\n"                                     # 11
    )
    job = start(world, wiki, csv_upload(text), justification="Bulk onboarding")
    # Rows that cannot be right are rejected at once, before any worker runs.
    assert (job.total, job.processed, job.rejected) == (8, 2, 2)
    assert tasks.run_bulk_assignment(job.pk) == 6
    job.refresh_from_db()
    assert (job.state, job.total, job.processed, job.assigned, job.rejected) == (
        BulkJobState.DONE, 8, 8, 3, 5)
    assert job.finished_at is not None
    A, R = BulkRowOutcome.ASSIGNED, BulkRowOutcome.REJECTED
    assert rows_of(job) == {
        2: (good[0].email, A, ""),
        3: ("nobody@access.example", R, "unknownPerson"),
        5: (good[1].email.upper(), A, ""),
        7: ("not-an-email", R, "invalidEmail"),
        8: (conflicted.email, R, "separationOfDuties"),
        9: (holder.email, R, "alreadyAssigned"),
        10: (good[0].email, R, "duplicateLine"),
        11: (good[2].email, A, ""),
    }
    reasons = dict(job.rows.filter(outcome=R).values_list("line", "reason"))
    assert reasons[3] == "No one with this email address is in the directory."
    assert reasons[7] == "“not-an-email” is not an email address."
    assert "Auditors" in reasons[8]
    assert "already assigned" in reasons[9]
    assert reasons[10] == "The same person is on line 2."
    # Each assigned row went through the direct-assignment service, with its justification.
    requests = AssignmentRequest.objects.filter(request_type=RequestType.ADMIN_ADD,
                                                access_package=package).exclude(target=holder)
    assert {(r.target.email, r.justification, r.requestor_id) for r in requests} == {
        (good[0].email, "Project work", world.owner.pk),
        (good[1].email, "Two\nlines", world.owner.pk),
        (good[2].email, "Bulk onboarding", world.owner.pk)}
    assert all(row.request_id for row in job.rows.filter(outcome=A))
    assert not Assignment.objects.filter(target=conflicted).exists()
    assert AuditEvent.objects.filter(action="bulkAssignment.done", object_id=str(job.pk),
                                     after__assigned=3).exists()


def test_separation_of_duties_with_an_incompatible_package_is_enforced(world, wiki):
    package, policy = wiki
    finance = PackageFactory(catalog=world.catalog, display_name="Finance approvals")
    finance_policy = PolicyFactory(access_package=finance)
    package.incompatible_access_packages.add(finance)
    holder, free = people(2)
    request_admin_add(actor=world.owner, access_package_id=finance.pk,
                      policy_id=finance_policy.pk, target=holder)
    job = start(world, wiki, csv_upload(f"email\n{holder.email}\n{free.email}\n"))
    bulk_assignment_run(job_id=job.pk)
    row = job.rows.get(line=2)
    assert (row.outcome, row.code) == (BulkRowOutcome.REJECTED, "separationOfDuties")
    assert "Finance approvals" in row.reason
    assert Assignment.objects.filter(target=free, access_package=package).exists()
    assert not Assignment.objects.filter(target=holder, access_package=package).exists()


def test_semicolons_and_a_byte_order_mark_are_read(world, wiki):
    person = UserFactory(email="excel@access.example")
    job = start(world, wiki, csv_upload("\ufeffemail;justification\nexcel@access.example;Yes\n"))
    bulk_assignment_run(job_id=job.pk)
    assert AssignmentRequest.objects.get(target=person).justification == "Yes"


def test_start_and_end_columns_schedule_the_access(world, monday):
    package, policy = open_package(world, allow_custom_schedule=True,
                                   expiration_duration=timedelta(days=90))
    early, late, wrong = people(3)
    text = (f"email,start,end\n{early.email},,2026-03-31\n"
            f"{late.email},2026-03-09 10:00,\n{wrong.email},next week,\n")
    job = start(world, (package, policy), csv_upload(text))
    bulk_assignment_run(job_id=job.pk)
    assignment = Assignment.objects.get(target=early)
    # An end date is the last day of access.
    assert timezone.localtime(assignment.expires_at).date().isoformat() == "2026-04-01"
    scheduled = AssignmentRequest.objects.get(target=late)
    assert scheduled.schedule_start_at == timezone.make_aware(
        datetime(2026, 3, 9, 10, 0))
    row = job.rows.get(email=wrong.email)
    assert (row.outcome, row.code) == (BulkRowOutcome.REJECTED, "invalidDate")
    assert "“next week” is not a date" in row.reason


def test_dates_under_a_policy_without_custom_schedules_are_rejected_per_row(world, wiki):
    person = UserFactory(email="dated@access.example")
    job = start(world, wiki, csv_upload(f"email,end\n{person.email},2099-01-01\n"))
    bulk_assignment_run(job_id=job.pk)
    row = job.rows.get()
    assert (row.outcome, row.code) == (BulkRowOutcome.REJECTED, "scheduleNotAllowed")


# Running twice, resuming, stopping.

def test_running_the_task_twice_assigns_nobody_twice(world, wiki):
    batch = people(7)
    job = start(world, wiki, csv_upload("email\n" + "\n".join(p.email for p in batch)))
    assert bulk_assignment_run(job_id=job.pk, batch_size=3) == 7
    assert tasks.run_bulk_assignment(job.pk) == 0
    # Even a job that looks stuck (its worker went quiet) has nothing left to do.
    BulkAssignmentJob.objects.filter(pk=job.pk).update(
        state=BulkJobState.RUNNING, heartbeat_at=clock.now() - timedelta(hours=1))
    assert bulk_assignment_run(job_id=job.pk) == 0
    assert AssignmentRequest.objects.filter(target__in=batch).count() == 7
    assert Assignment.objects.filter(target__in=batch).count() == 7
    job.refresh_from_db()
    assert (job.state, job.processed, job.assigned, job.rejected) == (
        BulkJobState.DONE, 7, 7, 0)


class WorkerDied(BaseException):
    """Like the worker's process being killed: nothing in the batch is caught or recorded."""


def test_a_job_whose_worker_died_resumes_where_it_stopped(world, wiki):
    batch = people(8)
    job = start(world, wiki, csv_upload("email\n" + "\n".join(p.email for p in batch)))
    real = bulk_assignments.request_admin_add
    calls = []

    def dies_on_the_fifth(**arguments):
        calls.append(arguments["target"].email)
        if len(calls) == 5:
            raise WorkerDied
        return real(**arguments)

    with mock.patch.object(bulk_assignments, "request_admin_add", dies_on_the_fifth), \
            pytest.raises(WorkerDied):
        bulk_assignment_run(job_id=job.pk, batch_size=3)
    job.refresh_from_db()
    # The first batch committed with its counters; the second rolled back entirely.
    assert (job.state, job.processed, job.assigned) == (BulkJobState.RUNNING, 3, 3)
    assert Assignment.objects.filter(target__in=batch).count() == 3
    # While the heartbeat is fresh, another run leaves the job to its worker.
    assert bulk_assignment_run(job_id=job.pk) == 0
    with time_machine.travel(clock.now() + timedelta(minutes=6)):
        assert bulk_assignments_resume() == 1  # (queued on commit, which never comes here)
        assert bulk_assignment_run(job_id=job.pk) == 5
    job.refresh_from_db()
    assert (job.state, job.processed, job.assigned, job.rejected) == (
        BulkJobState.DONE, 8, 8, 0)
    assert sorted(AssignmentRequest.objects.filter(target__in=batch)
                  .values_list("target__email", flat=True)) == sorted(p.email for p in batch)


def test_the_sweep_queues_jobs_whose_task_was_lost(world, wiki, django_capture_on_commit_callbacks):
    job = start(world, wiki, csv_upload("email\nmember@access.example\n"))
    running = start(world, wiki, csv_upload("email\napprover@access.example\n"))
    BulkAssignmentJob.objects.filter(pk=running.pk).update(state=BulkJobState.RUNNING,
                                                           heartbeat_at=clock.now())
    with mock.patch.object(tasks.run_bulk_assignment, "delay") as delay:
        with django_capture_on_commit_callbacks(execute=True):
            assert bulk_assignments_resume() == 0
        with time_machine.travel(clock.now() + timedelta(minutes=2)), \
                django_capture_on_commit_callbacks(execute=True):
            assert bulk_assignments_resume() == 1
    delay.assert_called_once_with(job.pk)


def test_the_upload_queues_its_task_after_commit(world, wiki, django_capture_on_commit_callbacks):
    with mock.patch.object(tasks.run_bulk_assignment, "delay") as delay:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            job = start(world, wiki, csv_upload("email\nmember@access.example\n"))
        delay.assert_not_called()
        for callback in callbacks:
            callback()
    delay.assert_called_once_with(job.pk)


def test_a_job_stops_when_its_uploader_loses_the_role(world, wiki):
    manager = UserFactory(email="assignments@access.example")
    role = CatalogRoleAssignment.objects.create(catalog=world.catalog, user=manager,
                                                role=CatalogRole.ASSIGNMENT_MANAGER)
    batch = people(3)
    job = start(world, wiki, csv_upload("email\n" + "\n".join(p.email for p in batch)),
                actor=manager)
    role.delete()
    assert bulk_assignment_run(job_id=job.pk) == 0
    job.refresh_from_db()
    assert job.state == BulkJobState.FAILED
    assert "may no longer assign" in job.error
    assert job.rows.filter(outcome=BulkRowOutcome.PENDING).count() == 3
    assert not Assignment.objects.filter(target__in=batch).exists()


def test_a_job_only_assigns_its_own_package(world, wiki):
    """Rows reach only the job's package, whatever else the uploader manages."""
    other_catalog = CatalogFactory()
    other = PackageFactory(catalog=other_catalog)
    PolicyFactory(access_package=other)
    person = UserFactory(email="only@access.example")
    job = start(world, wiki, csv_upload(f"email\n{person.email}\n"))
    bulk_assignment_run(job_id=job.pk)
    assert list(Assignment.objects.filter(target=person).values_list(
        "access_package_id", "state")) == [(wiki[0].pk, AssignmentState.DELIVERING)]
