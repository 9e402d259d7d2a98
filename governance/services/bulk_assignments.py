"""Bulk assignment from a CSV file: check the upload, store its rows, assign them in batches.

Every row goes through `request_admin_add`, the same service as a direct assignment, so scope,
separation of duties and duplicates are its checks, and its refusals are the report's reasons.
The job is run by governance.services.internal.csv_jobs: a worker claims it by compare-and-set
and takes its pending rows in batches with `SELECT … FOR UPDATE SKIP LOCKED`; each batch's
assignments, outcomes and counters commit together, so a job that is run twice, or resumed
after its worker died, assigns no one twice.
"""

import logging
from datetime import datetime, time, timedelta

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.core.validators import validate_email
from django.db import transaction
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from governance import clock
from governance.choices import BulkJobState, BulkRowOutcome
from governance.models import AccessPackage, BulkAssignmentJob, BulkAssignmentRow, User
from governance.selectors.permissions import can_manage_assignments
from governance.services.errors import InvalidInput, NotAllowed, NotFound, Refused
from governance.services.internal.csv_files import MAX_BYTES, csv_text, file_refusal
from governance.services.internal.csv_jobs import (
    MAX_ROWS,
    CsvJobKind,
    csv_cell,
    csv_job_queue,
    csv_job_record,
    csv_job_rows,
    csv_job_run,
    csv_job_uploader,
    csv_jobs_resume,
)
from governance.services.requests import request_admin_add

logger = logging.getLogger(__name__)

# Each row is a savepoint or two in its batch's transaction; PostgreSQL keeps 64
# subtransactions per transaction in shared memory and slows every session beyond that.
BATCH_SIZE = 25
JOB = CsvJobKind(model=BulkAssignmentJob, task_name="run_bulk_assignment",
                 audit_name="bulkAssignment")
# Column headings, as people write them, and what they name.
COLUMNS = {"email": "email", "e-mail": "email", "email address": "email",
           "start": "start", "start date": "start", "start_at": "start",
           "end": "end", "end date": "end", "end_at": "end",
           "justification": "justification"}
UNKNOWN_PERSON = "No one with this email address is in the directory."


def _columns(cells: list[str]) -> dict[str, int]:
    columns = {}
    for index, cell in enumerate(cells):
        name = COLUMNS.get(" ".join(cell.strip().lower().split()))
        if name and name not in columns:
            columns[name] = index
    if "email" not in columns:
        found = ", ".join(f"“{cell.strip()}”" for cell in cells if cell.strip()) or "nothing"
        raise file_refusal(f"The first line must name the columns, one of them “email” (found "
                           f"{found}). Optional columns: start, end, justification.",
                           code="noEmailColumn")
    return columns


def _moment(value: str, *, end: bool) -> datetime | None:
    """A date or date and time of the file, in the current time zone; None for a blank."""
    value = value.strip()
    if not value:
        return None
    try:
        # The date alone first: parse_datetime would take it as midnight.
        day = parse_date(value)
        moment = None if day else parse_datetime(value)
    except ValueError:
        moment = day = None
    if moment is None and day is None:
        raise ValueError(value)
    if moment is None:
        if not end and day == timezone.localdate(clock.now()):
            return None  # starting today: at once
        # An end date is the last day of access: the access lasts until that day ends.
        moment = datetime.combine(day + timedelta(days=1) if end else day, time())
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


def _row(line: int, cells: list[str], columns: dict[str, int],
         seen: dict[str, int]) -> BulkAssignmentRow:
    email = csv_cell(cells, columns, "email")
    row = BulkAssignmentRow(line=line, email=email[:254],
                            justification=csv_cell(cells, columns, "justification"))

    def reject(code: str, reason: str) -> BulkAssignmentRow:
        row.outcome, row.code, row.reason = BulkRowOutcome.REJECTED, code, reason
        row.processed_at = clock.now()
        return row

    if not email:
        return reject("noEmail", "The email column is empty.")
    try:
        validate_email(email)
    except ValidationError:
        return reject("invalidEmail", f"“{email[:100]}” is not an email address.")
    if email.lower() in seen:
        return reject("duplicateLine", f"The same person is on line {seen[email.lower()]}.")
    seen[email.lower()] = line
    for name in ("start", "end"):
        try:
            setattr(row, f"{name}_at", _moment(csv_cell(cells, columns, name), end=name == "end"))
        except ValueError:
            return reject("invalidDate", f"The {name} date “{csv_cell(cells, columns, name)}” is "
                                         "not a date: write it as 2026-03-31 or "
                                         "2026-03-31 09:00.")
    return row


def bulk_assignment_start(*, actor: User, access_package_id: int, policy_id: int,
                          upload: UploadedFile, justification: str = "") -> BulkAssignmentJob:
    """Check the uploaded CSV file and queue its rows for a worker to assign.

    :param upload: a CSV file (UTF-8, at most MAX_BYTES and MAX_ROWS) whose first line names
        the columns: `email`, and optionally `start`, `end` and `justification`.
    :param justification: for the rows without one.
    A refused upload writes nothing. Rows that cannot be right (no email, a bad date, a
    person named twice) are rejected at once, with their line and reason, and the others
    go ahead.
    """
    package = AccessPackage.objects.select_related("catalog").filter(
        pk=access_package_id).first()
    if package is None:
        raise NotFound("This access package does not exist.", code="packageNotFound")
    if not can_manage_assignments(actor, package.catalog):
        raise NotAllowed("You may not assign access packages of this catalog.")
    policy = package.policies.filter(pk=policy_id).first()
    if policy is None:
        raise InvalidInput("Choose a policy of this access package.", field="policy",
                           code="policyNotFound")
    rows = csv_job_rows(csv_text(upload), _columns, _row)
    return csv_job_queue(
        JOB, actor=actor, upload=upload, rows=rows,
        after={"accessPackage": package.pk, "policy": policy.pk},
        access_package=package, policy=policy, justification=(justification or "").strip())


def _people(emails: list[str]) -> dict[str, User]:
    wanted = {email.lower() for email in emails}
    return {user.email_lower: user for user in User.objects.annotate(
        email_lower=Lower("email")).filter(email_lower__in=wanted)}


def _assign(job: BulkAssignmentJob, row: BulkAssignmentRow, actor: User,
            person: User | None) -> None:
    row.processed_at = clock.now()
    if person is None:
        row.outcome, row.code, row.reason = (BulkRowOutcome.REJECTED, "unknownPerson",
                                             UNKNOWN_PERSON)
        return
    try:
        request = request_admin_add(
            actor=actor, access_package_id=job.access_package_id, policy_id=job.policy_id,
            target=person, justification=row.justification or job.justification,
            start_at=row.start_at, end_at=row.end_at)
    except Refused as refusal:
        row.outcome, row.code, row.reason = BulkRowOutcome.REJECTED, refusal.code, str(refusal)
    except Exception:  # noqa: BLE001 - one broken row must not hold back the others
        logger.exception("Bulk assignment %s, line %s failed", job.pk, row.line)
        row.outcome, row.code, row.reason = (
            BulkRowOutcome.REJECTED, "error",
            "An unexpected error stopped this row; nothing was assigned. Try it again alone.")
    else:
        row.outcome, row.code, row.reason, row.request = (BulkRowOutcome.ASSIGNED, "", "",
                                                          request)


def _batch(job_id: int, batch_size: int) -> int:
    """Assign one batch of pending rows; returns how many were done (0: nothing left)."""
    with transaction.atomic():
        job = BulkAssignmentJob.objects.select_related("access_package__catalog").get(
            pk=job_id)
        if job.state != BulkJobState.RUNNING:
            return 0
        rows = list(job.rows.filter(outcome=BulkRowOutcome.PENDING)
                    .select_for_update(skip_locked=True).order_by("line")[:batch_size])
        if not rows:
            return 0
        actor = csv_job_uploader(
            JOB, job, lambda person: can_manage_assignments(person, job.access_package.catalog),
            "may no longer assign access packages of this catalog")
        if actor is None:
            return 0
        people = _people([row.email for row in rows])
        for row in rows:
            _assign(job, row, actor, people.get(row.email.lower()))
        csv_job_record(JOB, job_id, rows, ["request"])
        return len(rows)


def bulk_assignment_run(*, job_id: int, batch_size: int = BATCH_SIZE) -> int:
    """Assign the job's pending rows, batch by batch; returns how many rows this call did.

    Safe to call twice: a job someone else is running, or that has finished, is left alone.
    """
    return csv_job_run(JOB, job_id, _batch, batch_size)


def bulk_assignments_resume() -> int:
    """Queue again the jobs whose task was lost or whose worker died; for the minute sweep."""
    return csv_jobs_resume(JOB)


__all__ = ["MAX_BYTES", "MAX_ROWS", "bulk_assignment_run", "bulk_assignment_start",
           "bulk_assignments_resume"]
