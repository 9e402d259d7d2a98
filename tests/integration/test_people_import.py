"""People imported from a CSV file in the admin, by a real Celery worker: progress shows while it
runs, managers are found in the file (whatever its order) or in the directory, each bad row is
rejected with its line and a clear reason while the others are imported, a rejected row writes
nothing, and importing the file again updates people rather than adding them twice."""

import csv
import io

import pytest
from django.urls import reverse

from governance.choices import BulkJobState, GlobalRole
from governance.choices.people import PeopleImportOutcome
from governance.models import AuditEvent, GlobalRoleAssignment, PeopleImportJob, User
from governance.services.people import person_create
from governance.services.provisioning_clients import provisioning_client_create
from tests.conftest import wait_for
from tests.factories import UserFactory, csv_upload

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

STAFF = 500   # person000 … person499, each managed by one of the LEADS
LEADS = 5     # lead0 … lead4, at the end of the file, managed by the director (directory)
HEADER = "email,display_name,department,job_title,manager_email,active"
JOBS = "admin:governance_peopleimportjob"


@pytest.fixture
def user_admin(fast_passwords):
    admin = UserFactory(email="people.admin@access.example", totp=True)
    GlobalRoleAssignment.objects.create(user=admin, role=GlobalRole.USER_ADMIN)
    return admin


@pytest.fixture
def directory(fast_passwords):
    """Who is in the directory before the import."""
    director = UserFactory(email="director@access.example", display_name="Director")
    existing = UserFactory(email="existing@access.example", department="Old")
    # dir.a is managed by dir.b; the file would make dir.a the manager of dir.b.
    dir_b = UserFactory(email="dir.b@access.example")
    UserFactory(email="dir.a@access.example", manager=dir_b)
    okta, _ = provisioning_client_create(
        actor=UserFactory(email="global@access.example", is_superuser=True),
        display_name="Okta")
    person_create(actor=okta.principal, values={"email": "okta@access.example",
                                                "department": "Kernel"})
    return {"director": director, "existing": existing}


def _lines(department_of_first: str = "Staff") -> list[str]:
    staff = [f"person{n:03d}@access.example,Person {n:03d},"
             f"{department_of_first if n == 0 else 'Staff'},Engineer,"
             f"lead{n % LEADS}@access.example," for n in range(STAFF)]
    leads = [f"lead{n}@access.example,Lead {n},Staff,Lead,director@access.example,"
             for n in range(LEADS)]
    bad = [
        "not-an-address,Nobody,,,,",                                     # a bad address
        "orphan@access.example,Orphan,,,nobody@nowhere.example,",        # an unknown manager
        "x@access.example,X,,,y@access.example,",                         # x and y manage
        "y@access.example,Y,,,x@access.example,",                         # each other
        "me@access.example,Me,,,me@access.example,",                      # their own manager
        "dir.b@access.example,,,,dir.a@access.example,",                  # a directory cycle
        "long@access.example,Long," + "Sales,"
        + "t" * 300 + ",,",                                               # a title too long
        "sub@access.example,Sub,,,x@access.example,",                     # a rejected manager
        "okta@access.example,,Other,,,",                                  # Okta's department
    ]
    others = ["leaver@access.example,Leaver,,,,false",                   # imported inactive
              "existing@access.example,,New,,,"]                          # an update
    return staff + bad + others + leads


def _upload(client, lines: list[str], name: str = "staff.csv"):
    return client.post(reverse(f"{JOBS}_add"), {
        "file": csv_upload(HEADER + "\n" + "\n".join(lines) + "\n", name)})


def _line_of(lines: list[str], email: str) -> int:
    return next(number for number, line in enumerate(lines, start=2)
                if line.startswith(email + ","))


def _done(job: PeopleImportJob) -> PeopleImportJob:
    wait_for(lambda: PeopleImportJob.objects.filter(pk=job.pk, state=BulkJobState.DONE)
             .exists(), timeout=300, what="the import to finish")
    job.refresh_from_db()
    return job


def test_people_are_imported_by_a_worker_with_progress_and_each_bad_row_explained(
        celery_worker, client, user_admin, directory):
    client.force_login(user_admin)
    lines = _lines()
    response = _upload(client, lines)
    assert response.status_code == 302, response.content.decode()[:2000]
    job = PeopleImportJob.objects.get()
    total = len(lines)

    # While the worker runs, the page shows how far it is, and keeps asking.
    def midway():
        job.refresh_from_db()
        return 0 < job.processed < total and job.state == BulkJobState.RUNNING

    wait_for(midway, timeout=60, what="the import to be under way")
    fragment = client.get(reverse(f"{JOBS}_progress", args=[job.pk])).content.decode()
    assert 'hx-trigger="every 2s"' in fragment
    assert f"of {total} rows processed" in fragment
    shown = int(fragment.split('value="', 1)[1].split('"', 1)[0])
    assert 0 < shown < total

    job = _done(job)
    good = STAFF + LEADS + 1  # and the leaver
    assert (job.total, job.processed, job.created, job.updated, job.unchanged,
            job.rejected) == (total, total, good, 1, 0, 9)

    # Managers: from the file, although they come after the people they manage, and from
    # the directory.
    director = directory["director"]
    for n in (0, 1, 499):
        person = User.objects.get(email=f"person{n:03d}@access.example")
        assert (person.manager.email, person.manager.manager) == (
            f"lead{n % LEADS}@access.example", director)
        assert person.provisioned_by is None and not person.has_usable_password()
    assert User.objects.get(email="existing@access.example").department == "New"
    assert not User.objects.get(email="leaver@access.example").is_active
    assert AuditEvent.objects.filter(action="user.provisioned", actor=user_admin).count() == good

    # Each rejected row: its line and why; nothing of it was written.
    report = client.get(reverse(f"{JOBS}_report", args=[job.pk]))
    rows = {row["Email"]: row for row in
            csv.DictReader(io.StringIO(report.content.decode("utf-8-sig")))}
    expected = {
        "not-an-address": ("invalidEmail", "is not an email address"),
        "orphan@access.example": ("managerNotFound",
                                  "nobody@nowhere.example is not in the directory"),
        "x@access.example": ("managerCycle", "would make a cycle of managers"),
        "y@access.example": ("managerCycle", "would make a cycle of managers"),
        "me@access.example": ("managerCycle", "cannot be their own manager"),
        "dir.b@access.example": ("managerCycle", "would make a cycle of managers"),
        "long@access.example": ("tooLong", "is longer than 200 characters"),
        "sub@access.example": ("managerNotFound",
                               f"their row, line {_line_of(lines, 'x@access.example')}, "
                               "was rejected"),
        "okta@access.example": ("managedByProvisioning",
                                "of okta@access.example is managed by Okta provisioning"),
    }
    assert set(rows) == set(expected)
    for email, (code, words) in expected.items():
        assert rows[email]["Code"] == code, (email, rows[email])
        assert words in rows[email]["Reason"], (email, rows[email]["Reason"])
        assert rows[email]["Line"] == str(_line_of(lines, email))
    for email in ("orphan@access.example", "x@access.example", "me@access.example",
                  "long@access.example", "sub@access.example"):
        assert not User.objects.filter(email=email).exists(), email
    assert User.objects.get(email="dir.b@access.example").manager is None
    assert User.objects.get(email="okta@access.example").department == "Kernel"

    page = client.get(reverse(f"{JOBS}_change", args=[job.pk])).content.decode()
    assert "hx-trigger" not in page
    assert (f"{total} of {total} rows processed: {good} created, 1 updated, 0 unchanged, "
            "9 rejected") in page
    assert "would make a cycle of managers" in page

    # The same file again, with one change: people are updated, not added twice.
    people = User.objects.count()
    assert _upload(client, _lines(department_of_first="Research"), "again.csv") \
        .status_code == 302
    again = _done(PeopleImportJob.objects.get(file_name="again.csv"))
    assert (again.created, again.updated, again.unchanged, again.rejected) == (
        0, 1, good, 9)
    assert User.objects.count() == people
    assert User.objects.get(email="person000@access.example").department == "Research"
    assert again.rows.get(email="person000@access.example").outcome == \
        PeopleImportOutcome.UPDATED


@pytest.mark.parametrize(("name", "content", "words"), [
    ("people.xlsx", b"PK\x03\x04\x00\x00binary", "is not a CSV file"),
    ("people.csv", "name,department\nAda,Research\n", "must name the columns, one of them"),
    ("people.csv", "email,departmnet\nada@access.example,Research\n",
     "The column “departmnet” is not one the import knows"),
    ("people.csv", "email,department\n", "has no rows below them"),
])
def test_a_file_that_cannot_be_imported_is_refused_on_the_page(client, user_admin, name,
                                                               content, words):
    client.force_login(user_admin)
    response = client.post(reverse(f"{JOBS}_add"), {
        "file": csv_upload(content, name, content_type="application/octet-stream")})
    assert response.status_code == 200
    assert words in response.content.decode()
    assert not PeopleImportJob.objects.exists()


def test_only_user_administrators_import_people(client, fast_passwords):
    someone = UserFactory(email="someone@access.example")
    GlobalRoleAssignment.objects.create(user=someone, role=GlobalRole.CATALOG_CREATOR)
    client.force_login(someone)
    response = client.post(reverse(f"{JOBS}_add"), {
        "file": csv_upload("email\nnew@access.example\n", "people.csv")})
    assert response.status_code == 403
    assert not PeopleImportJob.objects.exists()
    assert not User.objects.filter(email="new@access.example").exists()
