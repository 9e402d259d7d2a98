"""The mover (governance.services.people.person_update with a new manager_id): the person's
pending manager-approval stages go to the new manager, or to the fallback approvers when
there is none; the old manager's approval link then says where the stage went."""

from datetime import date

import pytest
from django.urls import reverse

from governance.choices import ApproverKind, Decision, RequestState, SubjectSetType
from governance.models import ApproverSet, AuditEvent, OutboxMessage, StageApprover, User
from governance.security.approval_links import approval_link_token
from governance.services.approvals import stage_decide
from governance.services.delegations import delegation_set
from governance.services.errors import InvalidInput
from governance.services.people import person_update
from governance.services.requests import request_submit
from tests.factories import UserFactory, member_package


@pytest.fixture
def admin(db):
    return UserFactory(email="global.admin@access.example", is_superuser=True)


@pytest.fixture
def people(world):
    """The member's old and new managers and a fallback approver, with telling names."""
    return {name: UserFactory(email=f"{name}@access.example", display_name=label)
            for name, label in (("old", "Olga Old"), ("new", "Nina New"),
                                ("fallback", "Fred Fallback"))}


def _manager_stage(world, admin, people, level: int = 1):
    """The member, managed by the old manager, asks for a package whose one stage is the
    requestor's manager (`level` up), with the fallback approver behind it."""
    person_update(actor=admin, user_id=world.member.pk,
                  changes={"manager_id": people["old"].pk})
    package = member_package(world, approvers=[], fallback=[people["fallback"]],
                             approver_type=SubjectSetType.REQUESTOR_MANAGER)
    ApproverSet.objects.filter(stage__policy__access_package=package,
                               subject_type=SubjectSetType.REQUESTOR_MANAGER).update(
        manager_level=level)
    request = request_submit(requestor=world.member, access_package_id=package.pk)
    return request.stages.get()


def _approvers(stage) -> list[tuple[str, str]]:
    return sorted(StageApprover.objects.filter(stage=stage).values_list("user__email", "kind"))


def _link(stage, approver: User) -> str:
    return reverse("approval_link", args=[approval_link_token(stage, approver.pk)])


def test_the_new_manager_takes_over_the_pending_manager_stage(world, admin, people):
    stage = _manager_stage(world, admin, people)
    assert _approvers(stage) == [(people["old"].email, ApproverKind.PRIMARY)]

    person_update(actor=admin, user_id=world.member.pk,
                  changes={"manager_id": people["new"].pk})

    assert _approvers(stage) == [(people["new"].email, ApproverKind.PRIMARY)]
    assert OutboxMessage.objects.filter(topic="approval_needed",
                                        recipient=people["new"]).count() == 1
    event = AuditEvent.objects.get(action="stage.rerouted", object_id=str(stage.pk))
    assert event.actor == admin
    assert (event.before, event.after) == ({"approvers": [people["old"].pk]},
                                           {"approvers": [people["new"].pk]})
    stage_decide(stage_id=stage.pk, approver=people["new"], decision=Decision.APPROVE)
    stage.request.refresh_from_db()
    assert stage.request.state == RequestState.DELIVERING


def test_the_old_managers_link_and_approval_page_say_where_the_stage_went(world, admin, people,
                                                                         as_user):
    stage = _manager_stage(world, admin, people)
    link = _link(stage, people["old"])
    assert as_user(people["old"]).get(link).status_code == 200  # the decision page, before

    person_update(actor=admin, user_id=world.member.pk,
                  changes={"manager_id": people["new"].pk})

    moved = f"This approval moved to Nina New when {world.member}’s manager changed."
    client = as_user(people["old"])
    response = client.get(link)
    assert response.status_code == 409
    assert moved in response.content.decode()
    page = client.get(reverse("approval_detail", args=[stage.pk]))
    assert page.status_code == 409 and moved in page.content.decode()
    # Nobody else learns where it went from the old manager's link.
    client.logout()
    assert "Nina New" not in client.get(link).content.decode()
    assert as_user(people["new"]).get(_link(stage, people["new"])).status_code == 200


def test_without_a_new_manager_the_fallback_approvers_take_the_stage(world, admin, people,
                                                                     as_user):
    stage = _manager_stage(world, admin, people)
    person_update(actor=admin, user_id=world.member.pk, changes={"manager_id": None})
    assert _approvers(stage) == [(people["fallback"].email, ApproverKind.FALLBACK)]
    assert OutboxMessage.objects.filter(topic="approval_needed",
                                        recipient=people["fallback"]).count() == 1
    page = as_user(people["old"]).get(_link(stage, people["old"])).content.decode()
    assert f"This approval moved to Fred Fallback when {world.member}’s manager changed." \
        in page


def test_an_inactive_new_manager_leaves_the_stage_to_the_fallback_approvers(world, admin,
                                                                            people):
    stage = _manager_stage(world, admin, people)
    User.objects.filter(pk=people["new"].pk).update(is_active=False)
    person_update(actor=admin, user_id=world.member.pk,
                  changes={"manager_id": people["new"].pk})
    assert _approvers(stage) == [(people["fallback"].email, ApproverKind.FALLBACK)]


def test_the_managers_delegates_follow_the_move(world, admin, people, monday):
    old_deputy = UserFactory(email="old.deputy@access.example")
    new_deputy = UserFactory(email="new.deputy@access.example")
    for manager, deputy in ((people["old"], old_deputy), (people["new"], new_deputy)):
        delegation_set(approver=manager, delegate_email=deputy.email,
                       starts_on=date(2026, 3, 2), ends_on=date(2026, 3, 6))
    stage = _manager_stage(world, admin, people)
    assert _approvers(stage) == [(old_deputy.email, ApproverKind.DELEGATE),
                                 (people["old"].email, ApproverKind.PRIMARY)]

    person_update(actor=admin, user_id=world.member.pk,
                  changes={"manager_id": people["new"].pk})

    assert _approvers(stage) == [(new_deputy.email, ApproverKind.DELEGATE),
                                 (people["new"].email, ApproverKind.PRIMARY)]
    assert OutboxMessage.objects.filter(topic="approval_needed",
                                        recipient=new_deputy).count() == 1


def test_a_second_level_manager_stage_follows_the_new_chain(world, admin, people):
    old_boss = UserFactory(email="old.boss@access.example")
    new_boss = UserFactory(email="new.boss@access.example")
    User.objects.filter(pk=people["old"].pk).update(manager=old_boss)
    User.objects.filter(pk=people["new"].pk).update(manager=new_boss)
    stage = _manager_stage(world, admin, people, level=2)
    assert _approvers(stage) == [(old_boss.email, ApproverKind.PRIMARY)]
    person_update(actor=admin, user_id=world.member.pk,
                  changes={"manager_id": people["new"].pk})
    assert _approvers(stage) == [(new_boss.email, ApproverKind.PRIMARY)]


def test_stages_that_do_not_wait_for_the_manager_are_left_alone(world, admin, people):
    person_update(actor=admin, user_id=world.member.pk,
                  changes={"manager_id": people["old"].pk})
    # A stage naming the old manager as a person, not as the requestor's manager.
    package = member_package(world, approvers=[people["old"]])
    stage = request_submit(requestor=world.member, access_package_id=package.pk).stages.get()
    # The old manager's other report's stage: not the mover's.
    other = UserFactory(email="other.report@access.example", manager=people["old"])
    manager_package = member_package(world, approvers=[],
                                     approver_type=SubjectSetType.REQUESTOR_MANAGER)
    others = request_submit(requestor=other, access_package_id=manager_package.pk).stages.get()

    person_update(actor=admin, user_id=world.member.pk,
                  changes={"manager_id": people["new"].pk})

    assert _approvers(stage) == [(people["old"].email, ApproverKind.PRIMARY)]
    assert _approvers(others) == [(people["old"].email, ApproverKind.PRIMARY)]
    assert not AuditEvent.objects.filter(action="stage.rerouted").exists()


# Refusals: nothing written


def _managers() -> list[tuple]:
    return sorted(User.objects.values_list("id", "manager_id", "is_active"))


def test_a_manager_cycle_is_refused(world, admin, people, assert_refused):
    stage = _manager_stage(world, admin, people)
    managers = _managers()
    assert_refused(lambda: person_update(actor=admin, user_id=people["old"].pk,
                                         changes={"manager_id": world.member.pk}),
                   InvalidInput, "managerCycle", "cycle")
    assert _managers() == managers
    assert _approvers(stage) == [(people["old"].email, ApproverKind.PRIMARY)]


def test_an_unknown_manager_is_refused(world, admin, people, assert_refused):
    stage = _manager_stage(world, admin, people)
    managers = _managers()
    assert_refused(lambda: person_update(actor=admin, user_id=world.member.pk,
                                         changes={"manager_id": 999999}),
                   InvalidInput, "managerNotFound", "999999")
    assert _managers() == managers
    assert _approvers(stage) == [(people["old"].email, ApproverKind.PRIMARY)]
