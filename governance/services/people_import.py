"""People imported from a CSV file, for organisations without an identity provider: check the
upload, store its rows, create or update each person in batches.

Every row goes through `person_create` or `person_update` (by email), the same services as
SCIM, so their checks are the import's and their refusals are the rows' reasons. Each row is
its own savepoint: a refused row writes nothing, and the other rows go on. Managers come
first: a row's `rank` is one more than its manager's row, a batch takes only rows of the
lowest rank still pending, so when a row is imported its manager's row is done. Reading the
rows, queueing, claiming, recording batches, finishing and resuming are
governance.services.internal.csv_jobs, as for the bulk assignment.
"""

import logging

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Min
from django.db.models.functions import Lower

from governance import clock
from governance.choices import AccountState, BulkJobState, UserType
from governance.choices.people import PeopleImportOutcome as Outcome
from governance.models import PeopleImportJob, PeopleImportRow, User
from governance.services.errors import NotAllowed, Refused
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
from governance.services.people import may_administer_people, person_create, person_update

logger = logging.getLogger(__name__)

# Each row is a few savepoints in its batch's transaction; PostgreSQL keeps 64
# subtransactions per transaction in shared memory and slows every session beyond that.
BATCH_SIZE = 20
JOB = CsvJobKind(model=PeopleImportJob, task_name="run_people_import", audit_name="peopleImport")
TEXT_COLUMNS = ("display_name", "first_name", "last_name", "department", "job_title",
                "employee_id", "employee_type", "company_name", "division", "office_location",
                "cost_center")
COLUMN_NAMES = ("email", *TEXT_COLUMNS, "manager_email", "active")
# Headings as people write them ("Job title", "E-mail"), and the column they name.
ALIASES = {"e_mail": "email", "email_address": "email", "mail": "email",
           "name": "display_name", "given_name": "first_name", "surname": "last_name",
           "family_name": "last_name", "title": "job_title", "company": "company_name",
           "office": "office_location", "cost_centre": "cost_center", "manager": "manager_email",
           "manager_e_mail": "manager_email"}
TRUE, FALSE = {"true", "yes", "y", "1"}, {"false", "no", "n", "0"}


def _column(heading: str) -> str | None:
    name = "_".join(heading.strip().lower().replace("-", " ").replace("_", " ").split())
    name = ALIASES.get(name, name)
    return name if name in COLUMN_NAMES else None


def _columns(cells: list[str]) -> dict[str, int]:
    columns, unknown = {}, []
    for index, cell in enumerate(cells):
        if not cell.strip():
            continue
        name = _column(cell)
        if name is None:
            unknown.append(cell.strip())
        elif name in columns:
            raise file_refusal(f"The column “{cell.strip()}” is in the file twice; keep one.",
                               code="duplicateColumn")
        else:
            columns[name] = index
    known = ", ".join(COLUMN_NAMES[1:])
    if "email" not in columns:
        found = ", ".join(f"“{cell.strip()}”" for cell in cells if cell.strip()) or "nothing"
        raise file_refusal(f"The first line must name the columns, one of them “email” (found "
                           f"{found}). The others you may give: {known}.",
                           code="noEmailColumn")
    if unknown:
        raise file_refusal(f"The column “{unknown[0][:60]}” is not one the import knows. The "
                           f"columns are email (required), {known}.", code="unknownColumn")
    return columns


def _valid_email(value: str) -> bool:
    try:
        validate_email(value)
    except ValidationError:
        return False
    return True


def _row(line: int, cells: list[str], columns: dict[str, int],
         seen: dict[str, int]) -> PeopleImportRow:
    email = csv_cell(cells, columns, "email").lower()
    manager_email = csv_cell(cells, columns, "manager_email").lower()
    row = PeopleImportRow(line=line, email=email[:254], manager_email=manager_email[:254])

    def reject(code: str, reason: str) -> PeopleImportRow:
        row.outcome, row.code, row.reason = Outcome.REJECTED, code, reason
        row.processed_at = clock.now()
        return row

    if not email:
        return reject("noEmail", "The email column is empty.")
    if not _valid_email(email):
        return reject("invalidEmail", f"“{email[:100]}” is not an email address; give the "
                                      "person's address, such as ada@example.com.")
    if email in seen:
        return reject("duplicateLine", f"The same person is on line {seen[email]}.")
    seen[email] = line
    if manager_email and not _valid_email(manager_email):
        return reject("invalidManager", f"The manager “{manager_email[:100]}” is not an email "
                                        "address; give the manager's address.")
    values = {name: value for name in TEXT_COLUMNS if (value := csv_cell(cells, columns, name))}
    active = csv_cell(cells, columns, "active").lower()
    if active in TRUE | FALSE:
        values["active"] = active in TRUE
    elif active:
        return reject("invalidValue", f"active is “{active[:20]}”: write true or false (yes or "
                                      "no, 1 or 0 also do).")
    row.values = values
    return row


def _rank(rows: list[PeopleImportRow]) -> None:
    """Rank each good row after its manager's row; reject the rows that manage each other."""
    by_email = {row.email: row for row in rows if row.outcome == Outcome.PENDING}
    rank: dict[str, int] = {}
    for start in by_email.values():
        path, on_path, row = [], {}, start
        while row is not None and row.email not in rank:
            if row.email in on_path:
                _reject_cycle(path[on_path[row.email]:])
                for member in path[on_path[row.email]:]:
                    rank[member.email] = 0
                break
            on_path[row.email] = len(path)
            path.append(row)
            row = by_email.get(row.manager_email) if row.manager_email else None
        above = rank[row.email] if row is not None else -1
        for item in reversed(path):
            if item.email not in rank:
                rank[item.email] = above + 1
            above = rank[item.email]
    for row in by_email.values():
        row.rank = rank[row.email]


def _reject_cycle(cycle: list[PeopleImportRow]) -> None:
    now = clock.now()
    if len(cycle) == 1:
        reason = "A person cannot be their own manager."
    else:
        chain = " → ".join(f"{row.email} (line {row.line})" for row in cycle)
        reason = (f"These rows would make a cycle of managers: {chain} → {cycle[0].email}. "
                  "Give one of them another manager.")
    for row in cycle:
        row.outcome, row.code, row.reason, row.processed_at = (Outcome.REJECTED, "managerCycle",
                                                               reason, now)


def people_import_start(*, actor: User, upload: UploadedFile) -> PeopleImportJob:
    """Check the uploaded CSV file and queue its rows for a worker to import.

    :param upload: a CSV file (UTF-8, at most MAX_BYTES and MAX_ROWS) whose first line names
        the columns: `email`, and any of TEXT_COLUMNS, `manager_email` (the manager's address,
        in the file or in the directory) and `active` (true or false).
    A refused upload writes nothing. Rows that cannot be right (no email or a bad one, a
    person named twice, managers that would manage each other) are rejected at once, with
    their line and reason, and the others go ahead. A blank cell changes nothing.
    """
    if not may_administer_people(actor):
        raise NotAllowed("Only global administrators and user administrators import people.")
    rows = csv_job_rows(csv_text(upload), _columns, _row)
    _rank(rows)
    return csv_job_queue(JOB, actor=actor, upload=upload, rows=rows)


def _directory(emails) -> dict[str, User]:
    """The people of the directory with these addresses (service accounts and deleted
    people are nobody's manager and are not updated), by their address in lower case."""
    return {user.email_lower: user for user in User.objects.annotate(
        email_lower=Lower("email")).filter(email_lower__in=set(emails))
        .exclude(user_type=UserType.SERVICE).exclude(account_state=AccountState.DELETED)}


def _changes(person: User, values: dict, manager: User | None, manager_named: bool) -> dict:
    """What the row changes: a person provisioned by a client may be re-imported with the
    values that client set, so only what differs goes to the service."""
    changes = {name: value for name, value in values.items()
               if name != "active" and getattr(person, name) != value}
    if "active" in values and values["active"] != person.is_active:
        changes["active"] = values["active"]
    if manager_named and person.manager_id != manager.pk:
        changes["manager_id"] = manager.pk
    return changes


def _unknown_manager(job: PeopleImportJob, row: PeopleImportRow) -> str:
    theirs = job.rows.filter(email=row.manager_email, outcome=Outcome.REJECTED) \
        .values_list("line", flat=True).first()
    if theirs:
        return (f"The manager {row.manager_email} is not in the directory: their row, line "
                f"{theirs}, was rejected.")
    return (f"The manager {row.manager_email} is not in the directory or in the file; add "
            "them on a row of their own, or leave manager_email blank.")


def _import(job: PeopleImportJob, row: PeopleImportRow, actor: User) -> None:
    row.processed_at = clock.now()
    found = _directory([row.email] + ([row.manager_email] if row.manager_email else []))
    manager = found.get(row.manager_email) if row.manager_email else None
    if row.manager_email and manager is None:
        row.outcome, row.code, row.reason = (Outcome.REJECTED, "managerNotFound",
                                             _unknown_manager(job, row))
        return
    person = found.get(row.email)
    try:
        with transaction.atomic():
            if person is None:
                values = {"email": row.email, **row.values}
                if manager is not None:
                    values["manager_id"] = manager.pk
                person, outcome = person_create(actor=actor, values=values), Outcome.CREATED
            else:
                changes = _changes(person, row.values, manager, bool(row.manager_email))
                outcome = Outcome.UPDATED if changes else Outcome.UNCHANGED
                if changes:
                    person = person_update(actor=actor, user_id=person.pk, changes=changes)
    except Refused as refusal:
        row.outcome, row.code, row.reason = Outcome.REJECTED, refusal.code, refusal.message
    except Exception:  # noqa: BLE001 - one broken row must not hold back the others
        logger.exception("People import %s, line %s failed", job.pk, row.line)
        row.outcome, row.code, row.reason = (
            Outcome.REJECTED, "error",
            "An unexpected error stopped this row; nothing was written. Try it again alone.")
    else:
        row.outcome, row.code, row.reason, row.person = outcome, "", "", person


def _batch(job_id: int, batch_size: int) -> int:
    """Import one batch of pending rows; returns how many were done (0: nothing left now)."""
    with transaction.atomic():
        job = PeopleImportJob.objects.get(pk=job_id)
        if job.state != BulkJobState.RUNNING:
            return 0
        pending = job.rows.filter(outcome=Outcome.PENDING)
        # The lowest rank of all pending rows, locked or not: while another worker holds
        # some of them, the rows they manage wait rather than miss their manager.
        lowest = pending.aggregate(rank=Min("rank"))["rank"]
        if lowest is None:
            return 0
        rows = list(pending.filter(rank=lowest).select_for_update(skip_locked=True)
                    .order_by("line")[:batch_size])
        if not rows:
            return 0
        actor = csv_job_uploader(JOB, job, may_administer_people, "may no longer change people")
        if actor is None:
            return 0
        for row in rows:
            _import(job, row, actor)
        csv_job_record(JOB, job_id, rows, ["person"])
        return len(rows)


def people_import_run(*, job_id: int, batch_size: int = BATCH_SIZE) -> int:
    """Import the job's pending rows, batch by batch; returns how many rows this call did.

    Safe to call twice: a job someone else is running, or that has finished, is left alone.
    """
    return csv_job_run(JOB, job_id, _batch, batch_size)


def people_imports_resume() -> int:
    """Queue again the jobs whose task was lost or whose worker died; for the minute sweep."""
    return csv_jobs_resume(JOB)


__all__ = ["COLUMN_NAMES", "MAX_BYTES", "MAX_ROWS", "people_import_run", "people_import_start",
           "people_imports_resume"]
