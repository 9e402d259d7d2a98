"""A CSV file of 2,000 people, uploaded in the admin and assigned by a real Celery worker:
progress shows while it runs, separation of duties holds, and the report lists the rejects."""

import csv
import io
import time

import pytest
from django.contrib.auth.hashers import make_password
from django.urls import reverse

from governance.choices import (
    AllowedTargetScope,
    BulkJobState,
    BulkRowOutcome,
    CatalogRole,
    RequestType,
)
from governance.models import (
    Assignment,
    AssignmentRequest,
    BulkAssignmentJob,
    GroupMembership,
    User,
)
from tests.conftest import wait_for
from tests.factories import (
    CatalogFactory,
    GroupFactory,
    PackageFactory,
    PolicyFactory,
    csv_upload,
    group_role,
    role_holder,
)

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

PEOPLE = 2000
UNKNOWN = 60        # every 33rd line: an email nobody has
CONFLICTED = 90     # members of a group incompatible with the package


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def scene():
    catalog = CatalogFactory(display_name="Onboarding")
    manager = role_holder(catalog, CatalogRole.ASSIGNMENT_MANAGER,
                          email="assignments@access.example")
    package = PackageFactory(catalog=catalog, display_name="Campus wiki")
    group_role(package, GroupFactory(display_name="Wiki readers"))
    policy = PolicyFactory(access_package=package, display_name="Staff",
                           allowed_target_scope=AllowedTargetScope.ALL_MEMBER_USERS)
    auditors = GroupFactory(display_name="Auditors")
    package.incompatible_groups.add(auditors)
    return manager, package, policy, auditors


def _directory(auditors) -> tuple[list[str], set[str], set[str]]:
    """PEOPLE lines' emails; the unknown ones and the conflicted ones among them."""
    emails = [f"person{n:04d}@access.example" for n in range(PEOPLE)]
    unknown = {emails[n] for n in range(0, PEOPLE, PEOPLE // UNKNOWN)[:UNKNOWN]}
    known = [email for email in emails if email not in unknown]
    password = make_password(None)
    User.objects.bulk_create([User(email=email, username=email, password=password,
                                   display_name=email.split("@")[0].title())
                              for email in known], batch_size=1000)
    conflicted = set(known[5::len(known) // CONFLICTED][:CONFLICTED])
    GroupMembership.objects.bulk_create([
        GroupMembership(group=auditors, user=user)
        for user in User.objects.filter(email__in=conflicted)])
    return emails, unknown, conflicted


def test_two_thousand_people_are_assigned_by_a_worker_with_visible_progress(
        celery_worker, client, scene):
    manager, package, policy, auditors = scene
    emails, unknown, conflicted = _directory(auditors)
    text = "email,justification\n" + "".join(f"{email},Onboarding 2026\n" for email in emails)
    client.force_login(manager)
    began = time.monotonic()
    response = client.post(reverse("admin:governance_bulkassignmentjob_add"), {
        "access_package": package.pk, "policy": policy.pk,
        "file": csv_upload(text, "staff.csv")})
    assert response.status_code == 302, response.content.decode()[:2000]
    job = BulkAssignmentJob.objects.get()
    progress_url = reverse("admin:governance_bulkassignmentjob_progress", args=[job.pk])

    # While the worker runs, the page shows how far it is, and keeps asking.
    def midway():
        job.refresh_from_db()
        return 0 < job.processed < PEOPLE and job.state == BulkJobState.RUNNING

    wait_for(midway, timeout=60, what="the job to be under way")
    fragment = client.get(progress_url).content.decode()
    assert 'hx-trigger="every 2s"' in fragment
    assert f"of {PEOPLE} rows processed" in fragment
    shown = int(fragment.split('value="', 1)[1].split('"', 1)[0])
    assert 0 < shown <= PEOPLE

    wait_for(lambda: BulkAssignmentJob.objects.filter(pk=job.pk, state=BulkJobState.DONE)
             .exists(), timeout=300, what="the job to finish")
    elapsed = time.monotonic() - began
    print(f"\n{PEOPLE} rows assigned by the worker in {elapsed:.1f} s")
    job.refresh_from_db()
    expected_assigned = PEOPLE - UNKNOWN - CONFLICTED
    assert (job.total, job.processed, job.assigned, job.rejected) == (
        PEOPLE, PEOPLE, expected_assigned, UNKNOWN + CONFLICTED)

    # Separation of duties held, and nobody got the package twice.
    holders = Assignment.objects.filter(access_package=package)
    assert holders.count() == expected_assigned
    assert not holders.filter(target__email__in=conflicted).exists()
    assert AssignmentRequest.objects.filter(
        access_package=package, request_type=RequestType.ADMIN_ADD).count() == expected_assigned

    # The report: each rejected row with its line (the header is line 1) and reason.
    report = client.get(reverse("admin:governance_bulkassignmentjob_report", args=[job.pk]))
    rows = list(csv.DictReader(io.StringIO(report.content.decode("utf-8-sig"))))
    assert len(rows) == UNKNOWN + CONFLICTED
    by_email = {row["Email"]: row for row in rows}
    assert set(by_email) == unknown | conflicted
    for email in unknown:
        assert by_email[email]["Code"] == "unknownPerson"
        assert by_email[email]["Line"] == str(emails.index(email) + 2)
    for email in conflicted:
        assert by_email[email]["Code"] == "separationOfDuties"
        assert "Auditors" in by_email[email]["Reason"]
    assert not job.rows.filter(outcome=BulkRowOutcome.PENDING).exists()
    page = client.get(reverse("admin:governance_bulkassignmentjob_change",
                              args=[job.pk])).content.decode()
    assert "hx-trigger" not in page
    assert f"{PEOPLE} of {PEOPLE} rows processed: {expected_assigned} assigned" in page
