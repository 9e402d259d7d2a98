"""The package builder in the admin, through the test client: catalogs and their role
holders, resources, packages with their roles, policies with stages and questions. The forms'
refusals are the services': beside their field, with nothing saved."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from governance.choices import (
    AllowedTargetScope,
    ApproverKind,
    CatalogRole,
    ExpirationType,
    RequestState,
    SubjectSetType,
)
from governance.models import (
    AccessPackage,
    AssignmentPolicy,
    AuditEvent,
    Catalog,
    CatalogRoleAssignment,
    Question,
)
from governance.services.catalogs import catalog_create
from governance.services.policies import policy_save
from governance.services.policy_spec import PolicySpec, StageSpec
from governance.services.requests import request_submit
from governance.services.resources import resource_add
from tests.config_helpers import config_snapshot
from tests.factories import GroupFactory, PackageFactory, group_role, submit_request
from tests.pages.builder_forms import (
    CATALOGS,
    PACKAGES,
    POLICIES,
    RESOURCES,
    field_errors,
    policy_form,
    question_form,
    stage_form,
)


def test_a_catalog_owner_builds_a_requestable_package_with_a_two_stage_policy(
        world, people, owner_client):
    # Something of another catalog, which must never be offered.
    group_role(PackageFactory(catalog=people.other_catalog, display_name="Ledger"),
               GroupFactory(display_name="Ledger keepers"))
    add_page = owner_client.get(reverse(f"{PACKAGES}_add")).content.decode()
    assert "Projects › Project Falcon › Member" in add_page
    assert "Ledger" not in add_page and "Finance" not in add_page

    falcon_member = world.package.resource_roles.get(resource__display_name="Project Falcon")
    response = owner_client.post(reverse(f"{PACKAGES}_add"), {
        "catalog": world.catalog.pk, "display_name": "Falcon reviewers",
        "description": "Review the Falcon designs.", "resource_roles": [falcon_member.pk],
        "incompatible_access_packages": [], "incompatible_groups": [], "_save": "Save"})
    assert response.status_code == 302, response.context["adminform"].form.errors
    package = AccessPackage.objects.get(display_name="Falcon reviewers")
    assert list(package.resource_roles.all()) == [falcon_member]
    assert AuditEvent.objects.filter(action="accessPackage.roleAdded",
                                     object_id=str(package.pk)).count() == 1

    page = owner_client.get(reverse(f"{PACKAGES}_change", args=[package.pk])).content.decode()
    assert "No policy yet" in page
    add_policy = reverse(f"{POLICIES}_add") + f"?access_package={package.pk}"
    assert f'href="{add_policy}"' in page.replace("&amp;", "&")
    assert 'name="access_package"' in owner_client.get(add_policy).content.decode()

    form = policy_form(world, package, **{
        **stage_form(1, approvers=[world.approver.pk], escalation_approvers=[world.owner.pk],
                     escalate_after_days="3", deadline_days="5", justification_required="on"),
        **question_form(), "questions-TOTAL_FORMS": "1", "_save": "Save"})
    response = owner_client.post(reverse(f"{POLICIES}_add"), form)
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert response.url == reverse(f"{PACKAGES}_change", args=[package.pk])
    policy = AssignmentPolicy.objects.get(access_package=package)
    first, second = policy.stages.order_by("order")
    assert (first.duration_before_automatic_denial_days, first.duration_before_escalation_days,
            first.is_approver_justification_required) == (5, 3, True)
    assert second.duration_before_automatic_denial_days == 7
    assert set(first.approver_sets.values_list("kind", "user__email")) == {
        (ApproverKind.PRIMARY, world.approver.email),
        (ApproverKind.ESCALATION, world.owner.email)}
    question = policy.questions.get()
    assert (question.text, question.regex_pattern, question.localizations) == (
        "Which project code?", r"[A-Z]{3}-\d{4}", {"fr": "Quel code de projet ?"})
    assert [event.action for event in AuditEvent.objects.filter(
        object_type="assignmentpolicy", object_id=str(policy.pk)).order_by("id")] == [
        "policy.created", "policy.questionAdded"]

    page = owner_client.get(reverse(f"{PACKAGES}_change", args=[package.pk])).content.decode()
    assert "Contoso partners" in page and "2 approval stages" in page

    request = request_submit(requestor=world.requester, access_package_id=package.pk,
                             justification="Reviewing", answers={question.pk: "FAL-2026"})
    assert request.state == RequestState.PENDING_APPROVAL
    assert list(request.stages.get(order=1).approvers.all()) == [world.approver]


def test_the_policy_page_shows_its_stages_and_questions_again(world, owner_client):
    page = owner_client.get(reverse(f"{POLICIES}_change", args=[world.policy.pk]))
    form = page.context["adminform"].form
    assert form.initial["stage1_approvers"] == [world.approver.pk]
    assert form.initial["stage2_approvers"] == [world.second_approver.pk]
    assert form.initial["expiration_days"] == 30
    assert "Which project code?" in page.content.decode()
    # Saved unchanged, nothing changes and nothing is audited.
    data = policy_form(world, world.package, **{
        **stage_form(2, approvers=[world.second_approver.pk]),
        "questions-TOTAL_FORMS": "1", "questions-INITIAL_FORMS": "1",
        **question_form(id=world.question.pk, sequence="0", localizations_text="",
                        regex_pattern=r"[A-Z]{3}-\d{4}"),
        "display_name": "Contoso partners", "description": "",
        "expiration_days": "30", "enable_self_update": "on", "_save": "Save"})
    data["questions-0-policy"] = world.policy.pk
    before = config_snapshot()
    response = owner_client.post(reverse(f"{POLICIES}_change", args=[world.policy.pk]), data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    after = config_snapshot()
    assert {key: value for key, value in after.items() if before[key] != value} == {}


REFUSALS = [
    ("no stage", {**stage_form(1), **stage_form(2)}, "stage1_approvers", "name the approvers"),
    ("a gap between stages", {**stage_form(1)}, "stage1_approvers", "no approver"),
    ("escalation after the deadline",
     stage_form(2, approvers=["second"], escalation_approvers=["owner"],
                escalate_after_days="7", deadline_days="7"),
     "stage2_escalate_after_days", "escalate earlier"),
    ("deadline of 15 days", stage_form(1, approvers=["approver"], deadline_days="15"),
     "stage1_deadline_days", "1 to 14 days"),
    ("manager without fallback",
     stage_form(1, dynamic_approver=SubjectSetType.REQUESTOR_MANAGER.value),
     "stage1_fallback_approvers", "fallback approver"),
    ("4000 days", {"expiration_days": "4000"}, "expiration_days", "3660 days"),
    ("mixed scope", {"allowed_target_scope": AllowedTargetScope.SPECIFIC_DIRECTORY_USERS,
                     "specific_users": ["member"]},
     "specific_connected_organizations", "second policy"),
    ("no organisation", {"specific_connected_organizations": []},
     "specific_connected_organizations", "at least one"),
    ("name taken", {"display_name": "CONTOSO PARTNERS"}, "display_name", "already has"),
]


@pytest.mark.parametrize("case", REFUSALS, ids=lambda case: case[0])
def test_an_invalid_policy_shows_the_reason_beside_its_field_and_saves_nothing(
        world, owner_client, case):
    _, overrides, field, words = case
    named = {"approver": world.approver.pk, "second": world.second_approver.pk,
             "owner": world.owner.pk, "member": world.member.pk}
    overrides = {name: [named[item] for item in value]
                 if isinstance(value, list) and value and isinstance(value[0], str) else value
                 for name, value in overrides.items()}
    form = policy_form(world, world.package, **({"display_name": "Second policy",
                                                  "_save": "Save"} | overrides))
    before = config_snapshot()
    response = owner_client.post(reverse(f"{POLICIES}_add"), form)
    assert response.status_code == 200
    errors = field_errors(response, field)
    assert errors and words in errors[0], response.context["adminform"].form.errors
    page = response.content.decode()
    assert re.search(rf'<div class="(?=[^"]*\berrors\b)(?=[^"]*\bfield-{field}\b)', page), \
        "not beside its field"
    assert config_snapshot() == before


def test_an_invalid_question_shows_its_reason_beside_the_field(world, owner_client):
    form = policy_form(world, world.package, display_name="Second policy",
                       **question_form(regex_pattern="[A-Z"),
                       **{"questions-TOTAL_FORMS": "1", "_save": "Save"})
    before = config_snapshot()
    response = owner_client.post(reverse(f"{POLICIES}_add"), form)
    assert response.status_code == 200
    question = response.context["inline_admin_formsets"][0].formset.forms[0]
    assert "not a valid regular expression" in question.errors["regex_pattern"][0]
    assert config_snapshot() == before


def test_a_policy_without_approval_needs_no_stage(world, owner_client):
    form = policy_form(world, world.package, display_name="Everyone",
                       allowed_target_scope=AllowedTargetScope.ALL_DIRECTORY_USERS,
                       specific_connected_organizations=[], expiration_type="noExpiration",
                       **{**stage_form(1), **stage_form(2), "_save": "Save"})
    del form["is_approval_required_for_add"]
    response = owner_client.post(reverse(f"{POLICIES}_add"), form)
    assert response.status_code == 302, response.context["adminform"].form.errors
    policy = AssignmentPolicy.objects.get(display_name="Everyone")
    assert not policy.stages.exists() and policy.expiration_duration is None


def test_changing_a_question_and_removing_another(world, owner_client):
    spare = Question.objects.create(policy=world.policy, text="Anything else?", sequence=5,
                                    is_required=False)
    form = policy_form(world, world.package, **{
        "display_name": "Contoso partners", "expiration_days": "30", "_save": "Save",
        "questions-TOTAL_FORMS": "2", "questions-INITIAL_FORMS": "2",
        **question_form(0, id=world.question.pk, text="Which project code, please?",
                        localizations_text=""),
        **question_form(1, id=spare.pk, text="Anything else?", regex_pattern="",
                        localizations_text="", DELETE="on")})
    response = owner_client.post(reverse(f"{POLICIES}_change", args=[world.policy.pk]), form)
    assert response.status_code == 302, response.context["adminform"].form.errors
    world.question.refresh_from_db()
    assert world.question.text == "Which project code, please?"
    assert not Question.objects.filter(pk=spare.pk).exists()


def test_a_package_name_taken_is_refused_beside_the_field(world, owner_client):
    before = config_snapshot()
    response = owner_client.post(reverse(f"{PACKAGES}_add"), {
        "catalog": world.catalog.pk, "display_name": "falcon collaboration",
        "description": "", "resource_roles": [], "_save": "Save"})
    assert response.status_code == 200
    assert "already has an access package" in field_errors(response, "display_name")[0]
    assert config_snapshot() == before


def test_a_package_offers_only_its_catalogs_roles(world, people, owner_client):
    foreign = group_role(PackageFactory(catalog=people.other_catalog),
                         GroupFactory(display_name="Ledger keepers"))
    url = reverse(f"{PACKAGES}_change", args=[world.package.pk])
    page = owner_client.get(url).content.decode()
    assert "Project Falcon › Member" in page and "Ledger" not in page
    before = config_snapshot()
    response = owner_client.post(url, {
        "display_name": "Falcon collaboration", "description": "",
        "resource_roles": [foreign.pk], "_save": "Save"})
    assert response.status_code == 200 and field_errors(response, "resource_roles")
    assert config_snapshot() == before


def test_removing_a_role_in_the_builder_changes_the_package(world, owner_client):
    keep = world.package.resource_roles.get(resource__display_name="Project Falcon")
    response = owner_client.post(reverse(f"{PACKAGES}_change", args=[world.package.pk]), {
        "display_name": "Falcon collaboration", "description": "", "is_hidden": "on",
        "resource_roles": [keep.pk], "_save": "Save"})
    assert response.status_code == 302, response.context["adminform"].form.errors
    world.package.refresh_from_db()
    assert world.package.is_hidden and list(world.package.resource_roles.all()) == [keep]
    assert AuditEvent.objects.filter(action="accessPackage.roleRemoved").count() == 1


def test_a_package_in_use_says_why_it_cannot_be_deleted(world, owner_client):
    submit_request(world)
    response = owner_client.get(reverse(f"{PACKAGES}_delete", args=[world.package.pk]),
                                follow=True)
    page = response.content.decode()
    assert "cannot be deleted" in page and "open request" in page
    assert AccessPackage.objects.filter(pk=world.package.pk).exists()


def test_an_unused_package_is_deleted_with_its_policies(world, owner_client):
    package = PackageFactory(catalog=world.catalog, display_name="Draft")
    policy_save(
        actor=world.owner, access_package_id=package.pk,
        spec=PolicySpec(
            display_name="All", allowed_target_scope=AllowedTargetScope.ALL_MEMBER_USERS,
            is_approval_required_for_add=False))
    url = reverse(f"{PACKAGES}_delete", args=[package.pk])
    assert "Are you sure" in owner_client.get(url).content.decode()
    response = owner_client.post(url, {"post": "yes"})
    assert response.status_code == 302
    assert not AccessPackage.objects.filter(pk=package.pk).exists()
    assert AuditEvent.objects.filter(action="accessPackage.deleted").exists()


def test_a_policy_stays_requestable_after_its_stage_is_changed_in_the_admin(world,
                                                                            owner_client):
    policy_save(
        actor=world.owner, policy_id=world.policy.pk, access_package_id=world.package.pk,
        spec=PolicySpec(
            display_name="Contoso partners",
            allowed_target_scope=AllowedTargetScope.SPECIFIC_CONNECTED_ORG_USERS,
            specific_connected_organizations=[world.organization],
            stages=[StageSpec(dynamic_approver=SubjectSetType.REQUESTOR_MANAGER,
                              manager_level=2, fallback_approvers=[world.approver])],
            expiration_duration=None, expiration_type=ExpirationType.NO_EXPIRATION))
    form = owner_client.get(reverse(f"{POLICIES}_change",
                                    args=[world.policy.pk])).context["adminform"].form
    assert form.initial["stage1_dynamic_approver"] == "requestorManager:2"
    assert form.initial["stage1_fallback_approvers"] == [world.approver.pk]
    request = submit_request(world)
    assert list(request.stages.get().approvers.all()) == [world.approver]


def test_a_catalog_in_use_says_why_and_an_empty_one_goes_with_its_resources(world, people,
                                                                           as_user):
    client = as_user(people.admin)
    response = client.get(reverse(f"{CATALOGS}_delete", args=[world.catalog.pk]), follow=True)
    page = response.content.decode()
    assert "cannot be deleted" in page and "Falcon collaboration" in page
    catalog = catalog_create(actor=people.admin, display_name="Short-lived")
    resource_add(actor=people.admin, catalog_id=catalog.pk, group_id=people.owned_group.pk)
    url = reverse(f"{CATALOGS}_delete", args=[catalog.pk])
    page = client.get(url).content.decode()
    assert "Are you sure" in page and "Resource: Falcon Engineers" in page
    assert client.post(url, {"post": "yes"}).status_code == 302
    assert not Catalog.objects.filter(pk=catalog.pk).exists()


def test_a_policy_with_open_requests_says_why_it_cannot_be_deleted(world, owner_client):
    submit_request(world)
    response = owner_client.post(reverse(f"{POLICIES}_delete", args=[world.policy.pk]),
                                 {"post": "yes"}, follow=True)
    assert "open request" in response.content.decode()
    assert AssignmentPolicy.objects.filter(pk=world.policy.pk).exists()


@pytest.mark.parametrize("admin_name", [CATALOGS, RESOURCES, PACKAGES, POLICIES])
def test_list_pages_take_as_many_queries_for_many_rows_as_for_few(world, people,
                                                                  owner_client, admin_name):
    url = reverse(f"{admin_name}_changelist")

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert owner_client.get(url).status_code == 200
        return len(captured)

    few = queries()
    for number in range(4):
        package = PackageFactory(catalog=world.catalog, display_name=f"Extra {number}")
        group_role(package, GroupFactory(display_name=f"Extra group {number}"))
        policy_save(
            actor=world.owner, access_package_id=package.pk,
            spec=PolicySpec(
                display_name="All", allowed_target_scope=AllowedTargetScope.ALL_MEMBER_USERS,
                stages=[StageSpec(approvers=[world.approver])]))
        catalog = Catalog.objects.create(display_name=f"Extra catalog {number}")
        CatalogRoleAssignment.objects.create(catalog=catalog, user=world.owner,
                                             role=CatalogRole.OWNER)
    assert queries() == few
