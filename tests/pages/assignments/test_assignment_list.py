"""The assignment admin's list (filtering, search, export) and assigning directly."""

from datetime import timedelta

from governance import clock
from governance.choices import (
    AssignmentState,
    RequestType,
)
from governance.models import (
    Assignment,
    AssignmentRequest,
)
from governance.services.requests import request_admin_add
from tests.factories import (
    GroupFactory,
    UserFactory,
)
from tests.pages.assignments.admin_pages import (
    ADD,
    EXPORT,
    LIST,
    csv_rows,
    page,
    url,
)

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
