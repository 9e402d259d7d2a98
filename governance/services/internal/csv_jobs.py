"""The jobs that work through an uploaded CSV file (bulk assignment, people import): read the
file's rows, queue the job, claim it, run its batches, finish or fail it, resume it.

A worker claims the job by compare-and-set, then calls the job's own batch function until it
returns 0. A batch takes pending rows with `SELECT … FOR UPDATE SKIP LOCKED` and commits their
outcomes and the job's counters together, so a job that is run twice, or resumed after its
worker died, does no row twice. What a row does, the job's columns, counters and audit
actions are the job's own (its `CsvJobKind`, its row and batch functions), in its services
module.
"""

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

from django.core.files.uploadedfile import UploadedFile
from django.db import models, transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce

from governance import clock
from governance.choices import BulkJobState
from governance.models import User
from governance.models.csv_job import CsvJob
from governance.services.audit import audit_record
from governance.services.internal.csv_files import csv_dialect, file_refusal
from governance.services.internal.dispatch import after_commit

MAX_ROWS = 10_000
Row = TypeVar("Row", bound=models.Model)
# A running job whose worker has shown no progress for this long lost its worker.
STUCK_AFTER = timedelta(minutes=5)
# A queued job that no worker took within this time lost its task (the broker was away).
UNCLAIMED_AFTER = timedelta(minutes=1)


@dataclass(frozen=True)
class CsvJobKind:
    model: type[CsvJob]
    # The task (in governance.tasks) that runs one job, given its id.
    task_name: str
    # Its audit actions are "<audit_name>.queued", ".done" and ".failed".
    audit_name: str


def _row_model(kind: CsvJobKind) -> type[models.Model]:
    return kind.model._meta.get_field("rows").related_model


def csv_cell(cells: list[str], columns: dict[str, int], name: str) -> str:
    """The row's cell in the column `name`, stripped; blank for a column the file lacks."""
    index = columns.get(name)
    return cells[index].strip() if index is not None and index < len(cells) else ""


def csv_job_rows(text: str, columns: Callable[[list[str]], dict[str, int]],
                 row: Callable[[int, list[str], dict[str, int], dict[str, int]], Row]
                 ) -> list[Row]:
    """The rows of the file, at most MAX_ROWS; blank lines are skipped.

    :param columns: from the cells of the header (its first line that is not blank), the
        index of each column by its name; refuses a header without the columns it needs.
    :param row: `row(line, cells, columns, seen)` makes the row of one line (where the row
        starts; the header is line 1). `seen` is the same dict for every row: the line of
        each person a row named, to reject a person named twice.
    """
    reader = csv.reader(io.StringIO(text, newline=""), csv_dialect(text))
    try:
        for header in reader:
            if any(cell.strip() for cell in header):
                break
        else:
            raise file_refusal("The file is empty. Its first line must name the columns, one of "
                               "them “email”.", code="noEmailColumn")
        names = columns(header)
        rows, seen, line = [], {}, reader.line_num + 1
        for cells in reader:
            if any(cell.strip() for cell in cells):
                if len(rows) == MAX_ROWS:
                    raise file_refusal(f"The file has more than {MAX_ROWS:,} rows. Split it "
                                       "into smaller files.", code="tooManyRows")
                rows.append(row(line, cells, names, seen))
            line = reader.line_num + 1
    except csv.Error as exc:
        raise file_refusal(f"The file could not be read as CSV (line {reader.line_num}: {exc}).",
                           code="notCsv") from None
    if not rows:
        raise file_refusal("The file names its columns but has no rows below them.",
                           code="noRows")
    return rows


def csv_job_queue(kind: CsvJobKind, *, actor: User, upload: UploadedFile,
                  rows: list[models.Model], after: dict | None = None, **fields) -> CsvJob:
    """Store the job and its rows, and queue its task once they are committed.

    :param rows: the rows of the file; those rejected already count as processed.
    :param after: what the queued audit event records besides the file and its rows.
    :param fields: the job's own fields.
    """
    rejected = sum(row.outcome == kind.model.row_outcomes.REJECTED for row in rows)
    with transaction.atomic():
        job = kind.model.objects.create(
            created_by=actor, file_name=(upload.name or "").rsplit("/", 1)[-1][:255],
            total=len(rows), processed=rejected, rejected=rejected,
            created_at=clock.now(), **fields)
        for row in rows:
            row.job = job
        _row_model(kind).objects.bulk_create(rows, batch_size=1000)
        audit_record(actor=actor, action=f"{kind.audit_name}.queued", obj=job, after={
            **(after or {}), "file": job.file_name, "rows": job.total,
            "rejectedOnUpload": job.rejected})
        after_commit(kind.task_name, job.pk)
    return job


def _claim(kind: CsvJobKind, job_id: int) -> bool:
    """Compare-and-set: a queued job, or a running one whose worker went quiet, is ours."""
    now = clock.now()
    return kind.model.objects.filter(pk=job_id).filter(
        Q(state=BulkJobState.QUEUED)
        | Q(state=BulkJobState.RUNNING, heartbeat_at__lte=now - STUCK_AFTER)
    ).update(state=BulkJobState.RUNNING, started_at=Coalesce("started_at", now),
             heartbeat_at=now) == 1


def _fail(kind: CsvJobKind, job: CsvJob, reason: str) -> None:
    job.state, job.error, job.finished_at = BulkJobState.FAILED, reason, clock.now()
    job.save(update_fields=["state", "error", "finished_at"])
    audit_record(actor=None, action=f"{kind.audit_name}.failed", obj=job,
                 after={"error": reason, "processed": job.processed, "total": job.total})


def csv_job_uploader(kind: CsvJobKind, job: CsvJob, may: Callable[[User], bool],
                     may_not: str) -> User | None:
    """The person who uploaded the job, read afresh for each batch, if they are active and
    `may(person)` still: a role taken away while the job runs stops it. Otherwise the job
    fails (its rows not yet processed stay pending), with `may_not` as the reason ("may no
    longer …"), and None is returned. Called in the batch's transaction."""
    person = User.objects.get(pk=job.created_by_id)
    if person.is_active and may(person):
        return person
    job = kind.model.objects.select_for_update().get(pk=job.pk)
    _fail(kind, job, f"{person.email} {may_not}; the rows not yet processed were left as they "
                     "are.")
    return None


def csv_job_record(kind: CsvJobKind, job_id: int, rows: list[models.Model],
                   fields: list[str]) -> None:
    """Save the outcomes of a batch's rows (and their `fields` of the job's own) and add them
    to the job's counters; in the batch's transaction, so they commit together."""
    _row_model(kind).objects.bulk_update(rows, ["outcome", "code", "reason", *fields,
                                                "processed_at"])
    outcomes = kind.model.row_outcomes
    counted = {name: sum(row.outcome == outcomes(name) for row in rows)
               for name in (*kind.model.counts, "rejected")}
    kind.model.objects.filter(pk=job_id).update(
        processed=F("processed") + len(rows), heartbeat_at=clock.now(),
        **{name: F(name) + count for name, count in counted.items()})


def _finish(kind: CsvJobKind, job_id: int) -> None:
    with transaction.atomic():
        job = kind.model.objects.select_for_update().get(pk=job_id)
        if job.state != BulkJobState.RUNNING:
            return
        if job.rows.filter(outcome=job.row_outcomes.PENDING).exists():
            return  # another worker still holds a batch; it finishes the job
        job.state, job.finished_at = BulkJobState.DONE, clock.now()
        job.save(update_fields=["state", "finished_at"])
        audit_record(actor=None, action=f"{kind.audit_name}.done", obj=job, after={
            "total": job.total, **job.outcome_counts, "rejected": job.rejected})


def csv_job_run(kind: CsvJobKind, job_id: int, batch: Callable[[int, int], int],
                batch_size: int) -> int:
    """Run the job's pending rows through `batch(job_id, batch_size)` (which returns how many
    rows it did, 0 when none is left) until none is left; returns how many rows this call did.

    Safe to call twice: a job someone else is running, or that has finished, is left alone.
    """
    if not _claim(kind, job_id):
        return 0
    done = 0
    while count := batch(job_id, batch_size):
        done += count
    _finish(kind, job_id)
    return done


def csv_jobs_resume(kind: CsvJobKind) -> int:
    """Queue again the jobs whose task was lost or whose worker died; for the minute sweep."""
    now = clock.now()
    job_ids = list(kind.model.objects.filter(
        Q(state=BulkJobState.QUEUED, created_at__lte=now - UNCLAIMED_AFTER)
        | Q(state=BulkJobState.RUNNING, heartbeat_at__lte=now - STUCK_AFTER)
    ).values_list("id", flat=True)[:100])
    for job_id in job_ids:
        after_commit(kind.task_name, job_id)
    return len(job_ids)
