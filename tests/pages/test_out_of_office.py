"""The Out of office page under Approvals: add a period, see errors beside fields, cancel."""

from datetime import UTC, date, datetime, timedelta

from django.urls import reverse

from governance.models import ApprovalDelegation
from governance.services.delegations import delegation_set
from tests.factories import MONDAY, UserFactory, submit_request

URL = "/approvals/out-of-office/"


def _away(approver, delegate, starts_on=date(2026, 3, 2), ends_on=date(2026, 3, 6)):
    return delegation_set(approver=approver, delegate_email=delegate.email,
                          starts_on=starts_on, ends_on=ends_on)


def test_the_page_asks_anonymous_people_to_sign_in(client, world):
    assert reverse("out_of_office") == URL
    response = client.get(URL)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_guests_have_no_out_of_office_page_nor_a_link_to_it(as_user, world):
    """Only members stand in; the form would otherwise tell a guest who is a member."""
    client = as_user(world.requester)
    assert URL not in client.get(reverse("approval_list")).content.decode()
    assert client.get(URL).status_code == 404
    assert client.post(URL, {"delegate_email": world.approver.email, "starts_on": "2026-03-02",
                             "ends_on": "2026-03-06"}).status_code == 404
    assert not ApprovalDelegation.objects.exists()


def test_approvals_links_to_the_page_which_has_labelled_fields(as_user, world, monday):
    client = as_user(world.approver)
    assert f'href="{URL}"' in client.get(reverse("approval_list")).content.decode()
    html = client.get(URL).content.decode()
    assert "You have no out-of-office period." in html
    for field, label in (("delegate_email", "Delegate"), ("starts_on", "From"),
                         ("ends_on", "Until")):
        assert f'<label for="id_{field}">{label}</label>' in html
    assert 'aria-current="page">Approvals' in html


def test_adding_a_period_lists_it_with_a_cancel_button(as_user, world, deputy, monday):
    client = as_user(world.approver)
    response = client.post(URL, {"delegate_email": deputy.email, "starts_on": "2026-03-09",
                                 "ends_on": "2026-03-13"}, follow=True)
    html = response.content.decode()
    delegation = ApprovalDelegation.objects.get()
    assert (delegation.approver, delegation.delegate) == (world.approver, deputy)
    assert "From 9 Mar 2026 to 13 Mar 2026, new approvals also go to Deputy." in html
    assert "9 Mar 2026 to 13 Mar 2026" in html and "deputy@access.example" in html
    assert f'name="cancel" value="{delegation.pk}"' in html


def test_a_refusal_is_shown_beside_its_field(as_user, world, monday):
    client = as_user(world.approver)
    response = client.post(URL, {"delegate_email": "requester@contoso.example",
                                 "starts_on": "2026-03-09", "ends_on": "2026-03-13"})
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="id_delegate_email_error"' in html and "is an external user" in html
    assert 'value="requester@contoso.example"' in html  # what was typed stays
    response = client.post(URL, {"delegate_email": "approver@access.example",
                                 "starts_on": "2026-03-09", "ends_on": "2026-03-02"})
    assert 'id="id_ends_on_error"' in response.content.decode()
    response = client.post(URL, {"delegate_email": "", "starts_on": "soon",
                                 "ends_on": "2026-03-02"})
    html = response.content.decode()
    assert 'id="id_delegate_email_error"' in html and 'id="id_starts_on_error"' in html
    assert not ApprovalDelegation.objects.exists()


def test_an_overlap_names_the_period_beside_from(as_user, world, deputy, monday):
    _away(world.approver, deputy)
    response = as_user(world.approver).post(URL, {"delegate_email": deputy.email,
                                                  "starts_on": "2026-03-05",
                                                  "ends_on": "2026-03-10"})
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="id_starts_on_error"' in html
    assert "already out of office from 2 Mar 2026 to 6 Mar 2026" in html
    assert ApprovalDelegation.objects.count() == 1


def test_cancel_ends_a_running_period_and_deletes_a_future_one(as_user, world, deputy, monday):
    running = _away(world.approver, deputy)
    future = _away(world.approver, deputy, date(2026, 4, 1), date(2026, 4, 3))
    client = as_user(world.approver)
    html = client.get(URL).content.decode()
    assert "2 Mar 2026 to 6 Mar 2026" in html and "1 Apr 2026 to 3 Apr 2026" in html
    response = client.post(URL, {"cancel": future.pk}, follow=True)
    assert "Your out-of-office period was canceled." in response.content.decode()
    assert not ApprovalDelegation.objects.filter(pk=future.pk).exists()
    response = client.post(URL, {"cancel": running.pk}, follow=True)
    html = response.content.decode()
    assert "Your out-of-office period has ended." in html
    assert "You have no out-of-office period." in html
    running.refresh_from_db()
    assert running.ends_at == MONDAY


def test_other_peoples_periods_are_neither_shown_nor_cancelable(as_user, world, deputy, monday):
    delegation = _away(world.approver, deputy)
    assert "deputy@access.example" not in \
        as_user(world.second_approver).get(URL).content.decode()
    assert 'name="cancel"' not in as_user(deputy).get(URL).content.decode()
    for person in (world.second_approver, deputy):
        assert as_user(person).post(URL, {"cancel": delegation.pk}).status_code == 404
    assert as_user(world.approver).post(URL, {"cancel": "x"}).status_code == 404
    delegation.refresh_from_db()
    assert delegation.ends_at == datetime(2026, 3, 7, tzinfo=UTC)


def test_the_delegate_sees_for_whom_they_stand_in(as_user, world, deputy, monday):
    _away(world.approver, deputy)
    html = as_user(deputy).get(URL).content.decode()
    assert "You stand in for" in html
    assert "Approver (approver@access.example), until 6 Mar 2026" in html
    assert "You have no out-of-office period." in html


def test_the_delegates_approvals_say_they_stand_in(as_user, world, deputy, monday):
    _away(world.approver, deputy)
    submit_request(world)
    delegate_page = as_user(deputy).get(reverse("approval_list")).content.decode()
    approver_page = as_user(world.approver).get(reverse("approval_list")).content.decode()
    assert "Falcon collaboration" in delegate_page and "Falcon collaboration" in approver_page
    assert "you stand in for an approver who is away" in delegate_page
    assert "you stand in for" not in approver_page


def test_dates_follow_the_approvers_time_zone(as_user, world, deputy, monday):
    world.approver.time_zone = "Pacific/Auckland"
    world.approver.save()
    _away(world.approver, deputy)
    # The browser's zone does not shift the days the approver chose.
    client = as_user(world.approver)
    client.cookies["tz"] = "America/Los_Angeles"
    assert "2 Mar 2026 to 6 Mar 2026" in client.get(URL).content.decode()


def test_the_page_costs_the_same_queries_however_many_periods(as_user, world, deputy, monday,
                                                             django_assert_num_queries):
    client = as_user(world.approver)
    _away(world.approver, deputy)
    _away(deputy, world.approver)  # the approver also stands in for the deputy
    # Session, user, the person's periods, the periods they stand in for.
    with django_assert_num_queries(4):
        assert client.get(URL).status_code == 200
    for week in range(1, 30):
        start = date(2026, 3, 2) + timedelta(weeks=week)
        _away(world.approver, UserFactory(email=f"deputy{week}@access.example"),
              start, start + timedelta(days=4))
        _away(UserFactory(email=f"away{week}@access.example"), world.approver)
    with django_assert_num_queries(4):
        html = client.get(URL).content.decode()
    assert html.count('name="cancel"') == 30 and "Away29" in html
