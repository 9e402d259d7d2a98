"""Every refusal of the request services: the error, a readable reason, nothing changed."""

from datetime import timedelta

from governance import clock
from governance.choices import (
    CatalogState,
    ExpirationType,
    QuestionKind,
)
from governance.services.errors import (
    Duplicate,
    InvalidInput,
    InvalidState,
    NotAllowed,
    NotFound,
    OutOfScope,
    SeparationOfDuties,
)
from governance.services.requests import (
    request_admin_add,
    request_cancel,
    request_extend,
    request_remove,
    request_submit,
)
from tests.factories import (
    GroupFactory,
    PolicyFactory,
    add_question,
    delivered_assignment,
    open_package,
    submit_request,
)


def test_out_of_scope_is_refused(world, assert_refused):
    assert_refused(lambda: submit_request(world, requestor=world.outsider), OutOfScope,
                   "outOfScope", "No policy")


def test_unknown_package_is_refused(world, assert_refused):
    assert_refused(lambda: submit_request(world, access_package_id=999999), NotFound,
                   "packageNotFound", "does not exist")


def test_unknown_policy_is_refused(world, assert_refused):
    other = PolicyFactory()
    assert_refused(lambda: submit_request(world, policy_id=other.pk), NotFound, "policyNotFound",
                   "policy does not exist")


def test_inactive_package_of_an_unpublished_catalog_is_refused(world, assert_refused):
    world.catalog.state = CatalogState.UNPUBLISHED
    world.catalog.save()
    assert_refused(lambda: submit_request(world), OutOfScope, "outOfScope", "not available")


def test_ended_policy_is_refused(world, assert_refused):
    world.policy.expiration_type = ExpirationType.AFTER_DATETIME
    world.policy.expiration_end_at = clock.now() - timedelta(days=1)
    world.policy.save()
    assert_refused(lambda: submit_request(world), OutOfScope, "outOfScope", "ended")


def test_incompatible_package_held_is_refused(world, assert_refused):
    package, _ = open_package(world)
    request_submit(requestor=world.requester, access_package_id=package.pk)
    world.package.incompatible_access_packages.add(package)
    assert_refused(lambda: submit_request(world), SeparationOfDuties, "separationOfDuties",
                   "Falcon wiki", "cannot be held together")


def test_incompatibility_declared_on_the_other_package_is_refused_too(world, assert_refused):
    package, _ = open_package(world)
    request_submit(requestor=world.requester, access_package_id=package.pk)
    package.incompatible_access_packages.add(world.package)
    assert_refused(lambda: submit_request(world), SeparationOfDuties, "separationOfDuties",
                   "Falcon wiki")


def test_member_of_an_incompatible_group_is_refused(world, assert_refused):
    auditors = GroupFactory(display_name="Auditors")
    auditors.members.add(world.requester)
    world.package.incompatible_groups.add(auditors)
    assert_refused(lambda: submit_request(world), SeparationOfDuties, "separationOfDuties",
                   "Auditors")


def test_admin_add_enforces_separation_of_duties(world, assert_refused):
    auditors = GroupFactory(display_name="Auditors")
    auditors.members.add(world.outsider)
    world.package.incompatible_groups.add(auditors)
    assert_refused(lambda: request_admin_add(actor=world.owner,
                                             access_package_id=world.package.pk,
                                             policy_id=world.policy.pk, target=world.outsider),
                   SeparationOfDuties, "separationOfDuties", "Auditors")


def test_admin_add_enforces_incompatible_packages(world, assert_refused):
    package, _ = open_package(world)
    request_submit(requestor=world.outsider, access_package_id=package.pk)
    world.package.incompatible_access_packages.add(package)
    assert_refused(lambda: request_admin_add(actor=world.owner,
                                             access_package_id=world.package.pk,
                                             policy_id=world.policy.pk, target=world.outsider),
                   SeparationOfDuties, "separationOfDuties", "Falcon wiki")


def test_admin_add_by_someone_without_a_catalog_role_is_refused(world, assert_refused):
    assert_refused(lambda: request_admin_add(actor=world.approver,
                                             access_package_id=world.package.pk,
                                             policy_id=world.policy.pk, target=world.outsider),
                   NotAllowed, "notAllowed", "may not assign")


def test_duplicate_while_a_request_is_open_is_refused(world, assert_refused):
    submit_request(world)
    assert_refused(lambda: submit_request(world), Duplicate, "duplicateRequest", "already pending")


def test_duplicate_when_already_assigned_is_refused(world, assert_refused):
    delivered_assignment(world)
    assert_refused(lambda: submit_request(world), Duplicate, "alreadyAssigned", "already assigned")


def test_admin_add_when_already_assigned_is_refused(world, assert_refused):
    delivered_assignment(world)
    assert_refused(lambda: request_admin_add(actor=world.owner,
                                             access_package_id=world.package.pk,
                                             policy_id=world.policy.pk, target=world.requester),
                   Duplicate, "alreadyAssigned", "already assigned")


def test_missing_justification_is_refused(world, assert_refused):
    assert_refused(lambda: submit_request(world, justification="   "), InvalidInput,
                   "justificationRequired", "justification is required")


def test_missing_required_answer_is_refused(world, assert_refused):
    assert_refused(lambda: submit_request(world, answers={}), InvalidInput, "answerRequired",
                   "Which project code?")


def test_answer_not_matching_the_pattern_is_refused(world, assert_refused):
    error = assert_refused(lambda: submit_request(world, answers={world.question.pk: "falcon"}),
                           InvalidInput, "invalidAnswer", "expected form")
    assert error.field == f"question_{world.question.pk}"


def _choice_question(world, **fields):
    return add_question(world.policy, "Region?", kind=QuestionKind.CHOICE, choices=[
        {"value": "eu", "text": "Europe"}, {"value": "us", "text": "Americas"}], **fields)


def test_choice_not_offered_is_refused(world, assert_refused):
    region = _choice_question(world)
    answers = {world.question.pk: "FAL-2026", region.pk: "asia"}
    assert_refused(lambda: submit_request(world, answers=answers), InvalidInput, "invalidAnswer",
                   "“asia” is not one of the answers")


def test_several_choices_for_a_single_choice_question_are_refused(world, assert_refused):
    region = _choice_question(world)
    answers = {world.question.pk: "FAL-2026", region.pk: ["eu", "us"]}
    assert_refused(lambda: submit_request(world, answers=answers), InvalidInput, "invalidAnswer",
                   "Choose only one")


def test_several_choices_are_kept_when_the_question_allows_them(world):
    region = _choice_question(world, allows_multiple_selection=True)
    answers = {world.question.pk: "FAL-2026", region.pk: ["eu", "us"]}
    request = submit_request(world, answers=answers)
    answer = request.answers.get(question=region)
    assert (answer.values, answer.display_value) == (["eu", "us"], "Europe, Americas")


def test_custom_schedule_when_the_policy_does_not_allow_it_is_refused(world, assert_refused):
    start = clock.now() + timedelta(days=2)
    assert_refused(lambda: submit_request(world, start_at=start), InvalidInput,
                   "scheduleNotAllowed", "does not let you choose")


def test_schedule_past_the_policy_end_is_refused(world, assert_refused):
    world.policy.allow_custom_schedule = True
    world.policy.expiration_type = ExpirationType.AFTER_DATETIME
    world.policy.expiration_end_at = clock.now() + timedelta(days=10)
    world.policy.save()
    end = clock.now() + timedelta(days=11)
    assert_refused(lambda: submit_request(world, end_at=end), InvalidInput, "scheduleOutOfPolicy",
                   "past what this policy allows")


def test_schedule_ending_before_it_starts_is_refused(world, assert_refused):
    world.policy.allow_custom_schedule = True
    world.policy.save()
    start = clock.now() + timedelta(days=5)
    assert_refused(lambda: submit_request(world, start_at=start, end_at=start - timedelta(days=1)),
                   InvalidInput, "scheduleOutOfPolicy", "end date must be after")


def test_extend_past_the_policy_end_is_refused(world, assert_refused):
    assignment = delivered_assignment(world)
    world.policy.allow_custom_schedule = True
    world.policy.expiration_type = ExpirationType.AFTER_DATETIME
    world.policy.expiration_end_at = clock.now() + timedelta(days=60)
    world.policy.save()
    assert_refused(lambda: request_extend(
        requestor=world.requester, assignment_id=assignment.pk, justification="Longer",
        answers={world.question.pk: "FAL-2026"}, end_at=clock.now() + timedelta(days=90)),
        InvalidInput, "scheduleOutOfPolicy", "past what this policy allows")


def test_extend_while_an_extension_is_pending_is_refused(world, assert_refused):
    assignment = delivered_assignment(world)
    world.policy.is_approval_required_for_update = True
    world.policy.save()
    arguments = {"requestor": world.requester, "assignment_id": assignment.pk,
                 "justification": "Longer", "answers": {world.question.pk: "FAL-2026"}}
    request_extend(**arguments)
    assert_refused(lambda: request_extend(**arguments), Duplicate, "duplicateRequest",
                   "already pending")


def test_extending_someone_elses_access_is_refused(world, assert_refused):
    assignment = delivered_assignment(world)
    assert_refused(lambda: request_extend(requestor=world.member, assignment_id=assignment.pk),
                   NotAllowed, "extendNotAllowed", "cannot be extended")


def test_extending_ended_access_is_refused(world, assert_refused):
    assignment = delivered_assignment(world)
    request_remove(actor=world.requester, assignment_id=assignment.pk)
    assert_refused(lambda: request_extend(requestor=world.requester,
                                          assignment_id=assignment.pk),
                   InvalidState, "assignmentEnded", "already ended")


def test_removing_someone_elses_access_is_refused(world, assert_refused):
    assignment = delivered_assignment(world)
    assert_refused(lambda: request_remove(actor=world.member, assignment_id=assignment.pk),
                   NotAllowed, "removeNotAllowed", "cannot be removed")
    assert_refused(lambda: request_remove(actor=world.member, assignment_id=assignment.pk,
                                          as_admin=True),
                   NotAllowed, "notAllowed", "may not remove")


def test_self_removal_when_the_policy_forbids_it_is_refused(world, assert_refused):
    assignment = delivered_assignment(world)
    world.policy.enable_self_remove = False
    world.policy.save()
    assert_refused(lambda: request_remove(actor=world.requester, assignment_id=assignment.pk),
                   NotAllowed, "removeNotAllowed", "cannot be removed")


def test_canceling_a_finished_request_is_refused(world, assert_refused):
    request = delivered_assignment(world).requests.get()
    assert_refused(lambda: request_cancel(actor=world.requester, request_id=request.pk),
                   InvalidState, "requestNotCancelable", "delivered", "can no longer")


def test_canceling_someone_elses_request_is_refused(world, assert_refused):
    request = submit_request(world)
    assert_refused(lambda: request_cancel(actor=world.member, request_id=request.pk),
                   NotAllowed, "notAllowed", "Only the requestor")
