"""Bulk assignment from a CSV file: check the upload, store its rows, assign them in batches.

Every row goes through `request_admin_add`, the same service as a direct assignment, so scope,
separation of duties and duplicates are its checks, and its refusals are the report's reasons.
A worker claims the job by compare-and-set and takes its pending rows in batches with
`SELECT … FOR UPDATE SKIP LOCKED`; each batch's assignments, outcomes and counters commit
together, so a job that is run twice, or resumed after its worker died, assigns no one twice.
"""

import csv
import io
import logging
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce, Lower
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from governance import clock
from governance.choices import BulkJobState, BulkRowOutcome
from governance.models import AccessPackage, BulkAssignmentJob, BulkAssignmentRow, User
from governance.selectors.permissions import can_manage_assignments
from governance.services.audit import audit_record
from governance.services.errors import InvalidInput, NotAllowed, NotFound, Refused
from governance.services.internal.csv_files import MAX_BYTES, csv_dialect, csv_text
from governance.services.internal.dispatch import after_commit
from governance.services.requests import request_admin_add

logger = logging.getLogger(__name__)

MAX_ROWS = 10_000
# Each row is a savepoint or two in its batch's transaction; PostgreSQL keeps 64
# subtransactions per transaction in shared memory and slows every session beyond that.
BATCH_SIZE = 25
# A running job whose worker has shown no progress for this long lost its worker.
STUCK_AFTER = timedelta(minutes=5)
# A queued job that no worker took within this time lost its task (the broker was away).
UNCLAIMED_AFTER = timedelta(minutes=1)
# Column headings, as people write them, and what they name.
COLUMNS = {"email": "email", "e-mail": "email", "email address": "email",
           "start": "start", "start date": "start", "start_at": "start",
           "end": "end", "end date": "end", "end_at": "end",
           "justification": "justification"}
UNKNOWN_PERSON = "No one with this email address is in the directory."


@dataclass
class _Parsed:
    rows: list[BulkAssignmentRow]
    rejected: int


def _refuse(message: str, code: str = "invalidFile") -> InvalidInput:
    return InvalidInput(message, field="file", code=code)


def _header(reader) -> dict[str, int]:
    for cells in reader:
        if any(cell.strip() for cell in cells):
            break
    else:
        raise _refuse("The file is empty. Its first line must name the columns, one of them "
                      "“email”.", code="noEmailColumn")
    columns = {}
    for index, cell in enumerate(cells):
        name = COLUMNS.get(" ".join(cell.strip().lower().split()))
        if name and name not in columns:
            columns[name] = index
    if "email" not in columns:
        found = ", ".join(f"“{cell.strip()}”" for cell in cells if cell.strip()) or "nothing"
        raise _refuse(f"The first line must name the columns, one of them “email” (found "
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


def _cell(cells: list[str], columns: dict[str, int], name: str) -> str:
    index = columns.get(name)
    return cells[index].strip() if index is not None and index < len(cells) else ""


def _row(line: int, cells: list[str], columns: dict[str, int],
         seen: dict[str, int]) -> BulkAssignmentRow:
    email = _cell(cells, columns, "email")
    row = BulkAssignmentRow(line=line, email=email[:254],
                            justification=_cell(cells, columns, "justification"))

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
            setattr(row, f"{name}_at", _moment(_cell(cells, columns, name), end=name == "end"))
        except ValueError:
            return reject("invalidDate", f"The {name} date “{_cell(cells, columns, name)}” is "
                                         "not a date: write it as 2026-03-31 or "
                                         "2026-03-31 09:00.")
    return row


def _parse(text: str) -> _Parsed:
    reader = csv.reader(io.StringIO(text, newline=""), csv_dialect(text))
    try:
        columns = _header(reader)
        rows, seen, rejected, line = [], {}, 0, reader.line_num + 1
        for cells in reader:
            if any(cell.strip() for cell in cells):
                if len(rows) == MAX_ROWS:
                    raise _refuse(f"The file has more than {MAX_ROWS:,} rows. Split it into "
                                  "smaller files.", code="tooManyRows")
                row = _row(line, cells, columns, seen)
                rejected += row.outcome == BulkRowOutcome.REJECTED
                rows.append(row)
            line = reader.line_num + 1
    except csv.Error as exc:
        raise _refuse(f"The file could not be read as CSV (line {reader.line_num}: {exc}).",
                      code="notCsv") from None
    if not rows:
        raise _refuse("The file names its columns but has no rows below them.",
                      code="noRows")
    return _Parsed(rows, rejected)


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
    parsed = _parse(csv_text(upload))
    now = clock.now()
    with transaction.atomic():
        job = BulkAssignmentJob.objects.create(
            access_package=package, policy=policy, created_by=actor,
            file_name=(upload.name or "").rsplit("/", 1)[-1][:255],
            justification=(justification or "").strip(), total=len(parsed.rows),
            processed=parsed.rejected, rejected=parsed.rejected, created_at=now)
        for row in parsed.rows:
            row.job = job
        BulkAssignmentRow.objects.bulk_create(parsed.rows, batch_size=1000)
        audit_record(actor=actor, action="bulkAssignment.queued", obj=job, after={
            "accessPackage": package.pk, "policy": policy.pk, "file": job.file_name,
            "rows": job.total, "rejectedOnUpload": job.rejected})
        after_commit("run_bulk_assignment", job.pk)
    return job


def _claim(job_id: int) -> bool:
    """Compare-and-set: a queued job, or a running one whose worker went quiet, is ours."""
    now = clock.now()
    return BulkAssignmentJob.objects.filter(pk=job_id).filter(
        Q(state=BulkJobState.QUEUED)
        | Q(state=BulkJobState.RUNNING, heartbeat_at__lte=now - STUCK_AFTER)
    ).update(state=BulkJobState.RUNNING, started_at=Coalesce("started_at", now),
             heartbeat_at=now) == 1


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


def _fail(job: BulkAssignmentJob, reason: str) -> None:
    job.state, job.error, job.finished_at = BulkJobState.FAILED, reason, clock.now()
    job.save(update_fields=["state", "error", "finished_at"])
    audit_record(actor=None, action="bulkAssignment.failed", obj=job,
                 after={"error": reason, "processed": job.processed, "total": job.total})


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
        # Fresh each batch: a role taken away while the job runs stops it.
        actor = User.objects.get(pk=job.created_by_id)
        if not (actor.is_active and can_manage_assignments(actor, job.access_package.catalog)):
            job = BulkAssignmentJob.objects.select_for_update().get(pk=job_id)
            _fail(job, f"{actor.email} may no longer assign access packages of this catalog; "
                       "the rows not yet processed were left as they are.")
            return 0
        people = _people([row.email for row in rows])
        for row in rows:
            _assign(job, row, actor, people.get(row.email.lower()))
        BulkAssignmentRow.objects.bulk_update(
            rows, ["outcome", "code", "reason", "request", "processed_at"])
        assigned = sum(row.outcome == BulkRowOutcome.ASSIGNED for row in rows)
        BulkAssignmentJob.objects.filter(pk=job_id).update(
            processed=F("processed") + len(rows), assigned=F("assigned") + assigned,
            rejected=F("rejected") + len(rows) - assigned, heartbeat_at=clock.now())
        return len(rows)


def _finish(job_id: int) -> None:
    with transaction.atomic():
        job = BulkAssignmentJob.objects.select_for_update().get(pk=job_id)
        if job.state != BulkJobState.RUNNING:
            return
        if job.rows.filter(outcome=BulkRowOutcome.PENDING).exists():
            return  # another worker still holds a batch; it finishes the job
        job.state, job.finished_at = BulkJobState.DONE, clock.now()
        job.save(update_fields=["state", "finished_at"])
        audit_record(actor=None, action="bulkAssignment.done", obj=job, after={
            "total": job.total, "assigned": job.assigned, "rejected": job.rejected})


def bulk_assignment_run(*, job_id: int, batch_size: int = BATCH_SIZE) -> int:
    """Assign the job's pending rows, batch by batch; returns how many rows this call did.

    Safe to call twice: a job someone else is running, or that has finished, is left alone.
    """
    if not _claim(job_id):
        return 0
    done = 0
    while count := _batch(job_id, batch_size):
        done += count
    _finish(job_id)
    return done


def bulk_assignments_resume() -> int:
    """Queue again the jobs whose task was lost or whose worker died; for the minute sweep."""
    now = clock.now()
    job_ids = list(BulkAssignmentJob.objects.filter(
        Q(state=BulkJobState.QUEUED, created_at__lte=now - UNCLAIMED_AFTER)
        | Q(state=BulkJobState.RUNNING, heartbeat_at__lte=now - STUCK_AFTER)
    ).values_list("id", flat=True)[:100])
    for job_id in job_ids:
        after_commit("run_bulk_assignment", job_id)
    return len(job_ids)


__all__ = ["MAX_BYTES", "MAX_ROWS", "bulk_assignment_run", "bulk_assignment_start",
           "bulk_assignments_resume"]
