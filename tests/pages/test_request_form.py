"""The request form: refusals beside their fields, what was typed kept, nothing half-saved."""

from django.urls import reverse

from governance.models import AssignmentRequest, RequestAnswer
from tests.factories import PolicyFactory, UserFactory, add_question


def _post(client, world, **data):
    form = {"justification": "Joining the Falcon project",
            f"question_{world.question.pk}": "FAL-2026"} | data
    return client.post(reverse("package_detail", args=[world.package.pk]), form)


def _nothing_saved():
    return not AssignmentRequest.objects.exists() and not RequestAnswer.objects.exists()


def test_a_valid_request_is_submitted_and_shown_in_request_history(as_user, world):
    client = as_user(world.requester)
    response = _post(client, world)
    assert response.status_code == 302 and response["Location"] == reverse("request_history")
    request = AssignmentRequest.objects.get()
    assert (request.state, request.justification) == ("pendingApproval",
                                                      "Joining the Falcon project")
    history = client.get(reverse("request_history")).content.decode()
    assert "Falcon collaboration" in history and "Pending approval" in history
    assert "Stage 1 of 2" in history and "Cancel request" in history


def test_missing_justification_is_refused_beside_the_field(as_user, world):
    response = _post(as_user(world.requester), world, justification="")
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="id_justification_error"' in html
    assert "A justification is required" in html
    assert 'value="FAL-2026"' in html  # the answer typed is kept
    assert _nothing_saved()


def test_an_answer_that_fails_its_pattern_is_refused_beside_the_question(as_user, world):
    response = _post(as_user(world.requester), world,
                     **{f"question_{world.question.pk}": "falcon"})
    assert response.status_code == 400
    html = response.content.decode()
    assert f'id="id_question_{world.question.pk}_error"' in html
    assert "does not have the expected form" in html
    assert "Joining the Falcon project" in html
    assert _nothing_saved()


def test_a_tampered_policy_id_is_refused(as_user, world):
    second = PolicyFactory(access_package=world.package, display_name="Contoso too",
                           allowed_target_scope=world.policy.allowed_target_scope)
    second.specific_connected_organizations.add(world.organization)
    client = as_user(world.requester)
    page = client.get(reverse("package_detail", args=[world.package.pk])).content.decode()
    assert "Policy" in page and "Contoso too" in page
    response = _post(client, world, policy="999999")
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    assert _nothing_saved()


def test_dates_outside_the_policy_are_refused_beside_the_end_date(as_user, world):
    world.policy.allow_custom_schedule = True
    world.policy.save()
    client = as_user(world.requester)
    response = _post(client, world, start_at="2030-01-10T09:00", end_at="2030-01-09T09:00")
    assert response.status_code == 400
    assert "The end date must be after the start date" in response.content.decode()
    response = _post(client, world, start_at="2030-01-10T09:00", end_at="2031-01-10T09:00")
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="id_end_at_error"' in html and "past what this policy allows" in html
    assert _nothing_saved()


def test_a_person_out_of_scope_cannot_request_even_by_posting(as_user, world):
    response = _post(as_user(world.outsider), world)
    assert response.status_code == 404
    assert _nothing_saved()


def test_localised_question_text_is_shown_in_the_persons_language(as_user, world):
    add_question(world.policy, "Which team?", localizations={"fr": "Quelle équipe ?"},
                 is_required=False)
    world.requester.preferred_language = "fr"
    world.requester.save()
    page = as_user(world.requester).get(reverse("package_detail", args=[world.package.pk]))
    assert "Quelle équipe ?" in page.content.decode()


def test_a_manager_requests_for_a_direct_report(as_user, world):
    world.policy.enable_on_behalf_of_direct_reports = True
    world.policy.save()
    manager = UserFactory(email="manager@access.example")
    world.requester.manager = manager
    world.requester.save()
    client = as_user(manager)
    response = client.post(reverse("package_detail", args=[world.package.pk]), {
        "target": world.requester.pk, "justification": "For my report",
        f"question_{world.question.pk}": "FAL-2026"})
    assert response.status_code == 302, response.content.decode()[:2000]
    request = AssignmentRequest.objects.get()
    assert (request.request_type, request.target, request.requestor) == (
        "onBehalfAdd", world.requester, manager)
