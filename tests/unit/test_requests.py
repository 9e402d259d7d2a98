from datetime import timedelta

import time_machine

from governance import clock
from governance.choices import (
    AllowedTargetScope,
    AssignmentState,
    CatalogState,
    ConnectedOrganizationState,
    DeliveryAction,
    DeliveryState,
    EndReason,
    ExpirationType,
    QuestionKind,
    RequestState,
    RequestType,
    StageState,
)
from governance.models import AuditEvent, GroupMembership, OutboxMessage, RequestAnswer
from governance.services.delivery import deliveries_process
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
    GuestFactory,
    PackageFactory,
    PolicyFactory,
    UserFactory,
    add_question,
    approve_all,
    delivered_assignment,
    group_role,
)


def _submit(world, **overrides):
    arguments = {"requestor": world.requester, "access_package_id": world.package.pk,
                 "justification": "Joining the Falcon project",
                 "answers": {world.question.pk: "FAL-2026"}}
    return request_submit(**(arguments | overrides))


def _open_package(world, **policy_fields):
    """A package in the world's catalog that every user may request without approval."""
    package = PackageFactory(catalog=world.catalog, display_name="Falcon wiki")
    group_role(package, GroupFactory(display_name="Wiki readers"))
    policy = PolicyFactory(access_package=package, display_name="Everyone", **policy_fields)
    return package, policy


# Allowed transitions


def test_submit_for_oneself_starts_the_first_stage(world):
    request = _submit(world)
    assert (request.request_type, request.state) == (RequestType.USER_ADD,
                                                      RequestState.PENDING_APPROVAL)
    assert request.status == "Pending approval, stage 1 of 2"
    stage1, stage2 = request.stages.order_by("order")
    assert stage1.state == StageState.IN_PROGRESS
    assert list(stage1.approvers.all()) == [world.approver]
    assert stage2.state == StageState.NOT_STARTED
    answer = RequestAnswer.objects.get(request=request)
    assert (answer.question, answer.value) == (world.question, "FAL-2026")
    assert AuditEvent.objects.filter(action="request.submitted", object_id=str(request.pk),
                                     actor=world.requester).exists()
    assert OutboxMessage.objects.filter(topic="approval_needed",
                                        recipient=world.approver).count() == 1


def test_submit_without_approval_creates_the_assignment_at_once(world):
    package, policy = _open_package(world)
    request = request_submit(requestor=world.member, access_package_id=package.pk)
    assert request.state == RequestState.DELIVERING
    assert request.assignment.state == AssignmentState.DELIVERING
    assert request.assignment.policy == policy
    assert request.assignment.expires_at == request.assignment.start_at + timedelta(days=30)
    assert request.stages.count() == 0
    deliveries_process()
    request.refresh_from_db()
    assert request.state == RequestState.DELIVERED


def test_submit_from_unknown_domain_under_any_external_user_proposes_an_organization(world):
    package, _ = _open_package(world, allowed_target_scope=AllowedTargetScope.ALL_EXTERNAL_USERS)
    stranger = GuestFactory(email="someone@northwind.example")
    request = request_submit(requestor=stranger, access_package_id=package.pk)
    stranger.refresh_from_db()
    assert request.state == RequestState.DELIVERING
    assert stranger.connected_organization.state == ConnectedOrganizationState.PROPOSED
    assert stranger.connected_organization.identity_sources.get().domain_name == \
        "northwind.example"


def test_manager_requests_on_behalf_of_a_direct_report(world):
    package, _ = _open_package(world, allowed_target_scope=AllowedTargetScope.ALL_MEMBER_USERS,
                               enable_on_behalf_of_direct_reports=True)
    report = UserFactory(email="report@access.example", manager=world.member)
    request = request_submit(requestor=world.member, target=report, access_package_id=package.pk)
    assert request.request_type == RequestType.ON_BEHALF_ADD
    assert (request.requestor, request.target) == (world.member, report)
    assert request.assignment.target == report


def test_on_behalf_request_for_someone_not_reporting_to_you_is_refused(world, assert_refused):
    package, _ = _open_package(world, allowed_target_scope=AllowedTargetScope.ALL_MEMBER_USERS,
                               enable_on_behalf_of_direct_reports=True)
    assert_refused(lambda: request_submit(requestor=world.member, target=world.approver,
                                          access_package_id=package.pk),
                   OutOfScope, "outOfScope", "direct reports")


def test_admin_add_assigns_directly_without_approval(world):
    request = request_admin_add(actor=world.owner, access_package_id=world.package.pk,
                                policy_id=world.policy.pk, target=world.outsider)
    assert (request.request_type, request.state) == (RequestType.ADMIN_ADD,
                                                     RequestState.DELIVERING)
    assert request.stages.count() == 0
    deliveries_process()
    assert GroupMembership.objects.filter(user=world.outsider).count() == 2


def test_extend_without_approval_moves_the_expiry(world):
    assignment = delivered_assignment(world)
    with time_machine.travel(assignment.expires_at - timedelta(days=5), tick=False):
        request = request_extend(requestor=world.requester, assignment_id=assignment.pk,
                                 justification="Project runs longer",
                                 answers={world.question.pk: "FAL-2026"})
        expected = clock.now() + timedelta(days=30)
    assignment.refresh_from_db()
    assert (request.request_type, request.state) == (RequestType.USER_UPDATE,
                                                     RequestState.DELIVERED)
    assert assignment.expires_at == expected
    assert AuditEvent.objects.filter(action="assignment.extended").count() == 1


def test_extend_goes_through_approval_when_the_policy_asks(world):
    assignment = delivered_assignment(world)
    world.policy.is_approval_required_for_update = True
    world.policy.save()
    before = assignment.expires_at
    request = request_extend(requestor=world.requester, assignment_id=assignment.pk,
                             justification="Longer", answers={world.question.pk: "FAL-2026"})
    assert request.state == RequestState.PENDING_APPROVAL
    assignment.refresh_from_db()
    assert assignment.expires_at == before
    with time_machine.travel(before - timedelta(days=2), tick=False):
        approve_all(request, world.approver, world.second_approver)
        expected = clock.now() + timedelta(days=30)
    assignment.refresh_from_db()
    assert request.state == RequestState.DELIVERED
    assert assignment.expires_at == expected


def test_user_removes_own_access(world):
    assignment = delivered_assignment(world)
    request = request_remove(actor=world.requester, assignment_id=assignment.pk)
    assignment.refresh_from_db()
    assert (request.request_type, request.state) == (RequestType.USER_REMOVE,
                                                     RequestState.DELIVERED)
    assert (assignment.state, assignment.end_reason) == (AssignmentState.EXPIRED,
                                                         EndReason.REMOVED_BY_USER)
    assert set(assignment.deliveries.values_list("action", "state")) == {
        (DeliveryAction.REVOKE, DeliveryState.PENDING)}
    deliveries_process()
    assert not GroupMembership.objects.filter(user=world.requester).exists()


def test_admin_removes_access(world):
    assignment = delivered_assignment(world)
    request = request_remove(actor=world.owner, assignment_id=assignment.pk, as_admin=True)
    assignment.refresh_from_db()
    assert request.request_type == RequestType.ADMIN_REMOVE
    assert assignment.end_reason == EndReason.REMOVED_BY_ADMIN
    assert AuditEvent.objects.filter(action="assignment.removed", actor=world.owner).exists()


def test_cancel_a_pending_request(world):
    request = _submit(world)
    canceled = request_cancel(actor=world.requester, request_id=request.pk)
    assert canceled.state == RequestState.CANCELED
    assert list(request.stages.order_by("order").values_list("state", flat=True)) == [
        StageState.SKIPPED, StageState.NOT_STARTED]
    assert AuditEvent.objects.filter(action="request.canceled").count() == 1
    # Canceled is final: a new request may be made.
    assert _submit(world).state == RequestState.PENDING_APPROVAL


# Refusals


def test_out_of_scope_is_refused(world, assert_refused):
    assert_refused(lambda: _submit(world, requestor=world.outsider), OutOfScope, "outOfScope",
                   "No policy")


def test_unknown_package_is_refused(world, assert_refused):
    assert_refused(lambda: _submit(world, access_package_id=999999), NotFound,
                   "packageNotFound", "does not exist")


def test_unknown_policy_is_refused(world, assert_refused):
    other = PolicyFactory()
    assert_refused(lambda: _submit(world, policy_id=other.pk), NotFound, "policyNotFound",
                   "policy does not exist")


def test_inactive_package_of_an_unpublished_catalog_is_refused(world, assert_refused):
    world.catalog.state = CatalogState.UNPUBLISHED
    world.catalog.save()
    assert_refused(lambda: _submit(world), OutOfScope, "outOfScope", "not available")


def test_ended_policy_is_refused(world, assert_refused):
    world.policy.expiration_type = ExpirationType.AFTER_DATETIME
    world.policy.expiration_end_at = clock.now() - timedelta(days=1)
    world.policy.save()
    assert_refused(lambda: _submit(world), OutOfScope, "outOfScope", "ended")


def test_incompatible_package_held_is_refused(world, assert_refused):
    package, _ = _open_package(world)
    request_submit(requestor=world.requester, access_package_id=package.pk)
    world.package.incompatible_access_packages.add(package)
    assert_refused(lambda: _submit(world), SeparationOfDuties, "separationOfDuties",
                   "Falcon wiki", "cannot be held together")


def test_incompatibility_declared_on_the_other_package_is_refused_too(world, assert_refused):
    package, _ = _open_package(world)
    request_submit(requestor=world.requester, access_package_id=package.pk)
    package.incompatible_access_packages.add(world.package)
    assert_refused(lambda: _submit(world), SeparationOfDuties, "separationOfDuties",
                   "Falcon wiki")


def test_member_of_an_incompatible_group_is_refused(world, assert_refused):
    auditors = GroupFactory(display_name="Auditors")
    auditors.members.add(world.requester)
    world.package.incompatible_groups.add(auditors)
    assert_refused(lambda: _submit(world), SeparationOfDuties, "separationOfDuties",
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
    package, _ = _open_package(world)
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
    _submit(world)
    assert_refused(lambda: _submit(world), Duplicate, "duplicateRequest", "already pending")


def test_duplicate_when_already_assigned_is_refused(world, assert_refused):
    delivered_assignment(world)
    assert_refused(lambda: _submit(world), Duplicate, "alreadyAssigned", "already assigned")


def test_admin_add_when_already_assigned_is_refused(world, assert_refused):
    delivered_assignment(world)
    assert_refused(lambda: request_admin_add(actor=world.owner,
                                             access_package_id=world.package.pk,
                                             policy_id=world.policy.pk, target=world.requester),
                   Duplicate, "alreadyAssigned", "already assigned")


def test_missing_justification_is_refused(world, assert_refused):
    assert_refused(lambda: _submit(world, justification="   "), InvalidInput,
                   "justificationRequired", "justification is required")


def test_missing_required_answer_is_refused(world, assert_refused):
    assert_refused(lambda: _submit(world, answers={}), InvalidInput, "answerRequired",
                   "Which project code?")


def test_answer_not_matching_the_pattern_is_refused(world, assert_refused):
    error = assert_refused(lambda: _submit(world, answers={world.question.pk: "falcon"}),
                           InvalidInput, "invalidAnswer", "expected form")
    assert error.field == f"question_{world.question.pk}"


def _choice_question(world, **fields):
    return add_question(world.policy, "Region?", kind=QuestionKind.CHOICE, choices=[
        {"value": "eu", "text": "Europe"}, {"value": "us", "text": "Americas"}], **fields)


def test_choice_not_offered_is_refused(world, assert_refused):
    region = _choice_question(world)
    answers = {world.question.pk: "FAL-2026", region.pk: "asia"}
    assert_refused(lambda: _submit(world, answers=answers), InvalidInput, "invalidAnswer",
                   "“asia” is not one of the answers")


def test_several_choices_for_a_single_choice_question_are_refused(world, assert_refused):
    region = _choice_question(world)
    answers = {world.question.pk: "FAL-2026", region.pk: ["eu", "us"]}
    assert_refused(lambda: _submit(world, answers=answers), InvalidInput, "invalidAnswer",
                   "Choose only one")


def test_several_choices_are_kept_when_the_question_allows_them(world):
    region = _choice_question(world, allows_multiple_selection=True)
    request = _submit(world, answers={world.question.pk: "FAL-2026", region.pk: ["eu", "us"]})
    answer = request.answers.get(question=region)
    assert (answer.values, answer.display_value) == (["eu", "us"], "Europe, Americas")


def test_custom_schedule_when_the_policy_does_not_allow_it_is_refused(world, assert_refused):
    start = clock.now() + timedelta(days=2)
    assert_refused(lambda: _submit(world, start_at=start), InvalidInput, "scheduleNotAllowed",
                   "does not let you choose")


def test_schedule_past_the_policy_end_is_refused(world, assert_refused):
    world.policy.allow_custom_schedule = True
    world.policy.expiration_type = ExpirationType.AFTER_DATETIME
    world.policy.expiration_end_at = clock.now() + timedelta(days=10)
    world.policy.save()
    end = clock.now() + timedelta(days=11)
    assert_refused(lambda: _submit(world, end_at=end), InvalidInput, "scheduleOutOfPolicy",
                   "past what this policy allows")


def test_schedule_ending_before_it_starts_is_refused(world, assert_refused):
    world.policy.allow_custom_schedule = True
    world.policy.save()
    start = clock.now() + timedelta(days=5)
    assert_refused(lambda: _submit(world, start_at=start, end_at=start - timedelta(days=1)),
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
    request = _submit(world)
    assert_refused(lambda: request_cancel(actor=world.member, request_id=request.pk),
                   NotAllowed, "notAllowed", "Only the requestor")


def test_admin_removes_access_still_being_delivered_and_it_can_be_requested_again(world):
    added = request_admin_add(actor=world.owner, access_package_id=world.package.pk,
                              policy_id=world.policy.pk, target=world.requester)
    removal = request_remove(actor=world.owner, assignment_id=added.assignment.pk,
                             as_admin=True)
    added.refresh_from_db()
    assert removal.state == RequestState.DELIVERED
    assert (added.state, added.status) == (RequestState.DELIVERY_FAILED,
                                           "Access ended before delivery finished")
    assert _submit(world).state == RequestState.PENDING_APPROVAL


def test_user_removes_access_while_an_extension_is_pending(world):
    assignment = delivered_assignment(world)
    world.policy.is_approval_required_for_update = True
    world.policy.save()
    extension = request_extend(requestor=world.requester, assignment_id=assignment.pk,
                               justification="Longer", answers={world.question.pk: "FAL-2026"})
    request_remove(actor=world.requester, assignment_id=assignment.pk)
    approve_all(extension, world.approver, world.second_approver)
    assignment.refresh_from_db()
    assert assignment.state == AssignmentState.EXPIRED
    assert (extension.state, extension.status) == (RequestState.DELIVERY_FAILED,
                                                   "The access to extend has ended")
