"""Approvers see who asks: the job title, department and manager of the requestor (and of the
person the access is for, when a manager asks on their behalf), on the Approvals page and the
approval's own page; only what is set."""

import re
from html import unescape

from django.urls import reverse

from governance.services.people import person_update
from tests.factories import UserFactory, member_package, submit_request


def _text(response) -> str:
    assert response.status_code == 200
    html = response.content.decode()
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def _facts(response) -> dict[str, str]:
    """The approval page's facts, term → description."""
    html = response.content.decode()
    block = re.search(r'<dl class="facts">(.*?)</dl>', html, re.S).group(1)
    return {unescape(term): " ".join(unescape(re.sub(r"<[^>]+>", "", value)).split())
            for term, value in re.findall(r"<dt>(.*?)</dt><dd>(.*?)</dd>", block, re.S)}


def _set(person, **changes):
    admin = UserFactory(email="people.admin@access.example", is_superuser=True)
    person_update(actor=admin, user_id=person.pk, changes=changes)


def test_the_approvals_page_shows_the_requestors_title_department_and_manager(as_user, world):
    manager = UserFactory(email="manny@contoso.example", display_name="Manny Manager")
    _set(world.requester, job_title="Research engineer", department="Analytical engines",
         manager_id=manager.pk)
    stage = submit_request(world).stages.get(order=1)
    client = as_user(world.approver)

    listing = _text(client.get(reverse("approval_list")))
    assert "Research engineer, Analytical engines · Manager: Manny Manager" in listing

    facts = _facts(client.get(reverse("approval_detail", args=[stage.pk])))
    assert (facts["Job title"], facts["Department"], facts["Manager"]) == (
        "Research engineer", "Analytical engines", "Manny Manager")
    assert list(facts).index("Job title") == list(facts).index("Requestor") + 1


def test_only_what_is_set_is_shown(as_user, world):
    _set(world.requester, department="Analytical engines")
    stage = submit_request(world).stages.get(order=1)
    client = as_user(world.approver)

    listing = _text(client.get(reverse("approval_list")))
    assert "Analytical engines" in listing
    assert "Manager:" not in listing and ", Analytical" not in listing
    facts = _facts(client.get(reverse("approval_detail", args=[stage.pk])))
    assert facts["Department"] == "Analytical engines"
    assert "Job title" not in facts and "Manager" not in facts


def test_a_requestor_without_attributes_shows_none_of_them(as_user, world):
    stage = submit_request(world).stages.get(order=1)
    client = as_user(world.approver)
    facts = _facts(client.get(reverse("approval_detail", args=[stage.pk])))
    assert not {"Job title", "Department", "Manager"} & set(facts)
    assert "Manager:" not in _text(client.get(reverse("approval_list")))


def test_on_behalf_the_facts_of_both_people_follow_their_names(as_user, world):
    package = member_package(world)
    package.policies.update(enable_on_behalf_of_direct_reports=True)
    report = UserFactory(email="report@access.example", display_name="Rita Report")
    _set(world.member, job_title="Team lead")
    _set(report, job_title="Analyst", department="Finance", manager_id=world.member.pk)
    request = submit_request(world, requestor=world.member, target=report,
                             access_package_id=package.pk, answers={})
    client = as_user(world.approver)

    html = client.get(reverse("approval_detail",
                              args=[request.stages.get(order=1).pk])).content.decode()
    text = " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())
    assert re.search(r"Requestor .*member@access\.example.* Job title Team lead For Rita Report"
                     r" \(report@access\.example\) Job title Analyst Department Finance "
                     r"Manager Member", text)
    # The list names the person the access is for, with their facts.
    assert "Analyst, Finance · Manager: Member" in _text(client.get(reverse("approval_list")))


def test_the_emailed_link_shows_them_without_a_query_more(as_user, world):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from governance.security.approval_links import approval_link_url

    stage = submit_request(world).stages.get(order=1)
    client = as_user(world.approver)
    url = approval_link_url(stage, world.approver.pk)

    def cost() -> tuple[int, str]:
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        return len(queries), _text(response)

    without, _page = cost()
    manager = UserFactory(email="manny@contoso.example", display_name="Manny Manager")
    _set(world.requester, job_title="Research engineer", manager_id=manager.pk)
    with_manager, page = cost()
    assert "Job title Research engineer" in page and "Manager Manny Manager" in page
    assert with_manager == without
