"""The profile page: the person's name and email, and their API tokens (create, shown once,
revoke)."""

import re
from datetime import timedelta

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from governance import clock
from governance.models import PersonalToken
from governance.services.api_tokens import personal_token_create, token_authenticate

PROFILE = reverse("profile")
TOKEN = re.compile(r"pat_[0-9a-f]{8}\.[A-Za-z0-9_-]+")


def test_signed_out_people_are_sent_to_sign_in(client, world):
    response = client.get(PROFILE)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_the_page_shows_the_person_and_links_from_the_account_menu(as_user, world):
    page = as_user(world.member).get(PROFILE)
    html = page.content.decode()
    assert page.status_code == 200
    assert world.member.email in html and "API tokens" in html
    assert f'href="{PROFILE}" aria-current="page">Profile</a>' in html
    assert "You have no API tokens." in html
    other = as_user(world.member).get(reverse("overview")).content.decode()
    assert f'href="{PROFILE}">Profile</a>' in other


def test_a_new_token_is_shown_once_and_works(as_user, reauthenticate, world):
    client = reauthenticate(as_user(world.member))
    response = client.post(PROFILE, {"name": "Report script", "expires_in_days": "30"})
    assert response.status_code == 200
    html = response.content.decode()
    [raw] = set(TOKEN.findall(html))
    assert "it will not be shown again" in html
    assert f"Authorization: Bearer {raw}" in html and "http://testserver/v1.0/" in html
    assert "no-store" in response["Cache-Control"] or "no-cache" in response["Cache-Control"]
    user, _scopes = token_authenticate(raw)
    assert user == world.member
    token = PersonalToken.objects.get(user=world.member)
    assert token.name == "Report script"
    assert timedelta(days=29) < token.expires_at - clock.now() <= timedelta(days=30)
    later = client.get(PROFILE).content.decode()
    assert raw not in later and raw.split(".")[1] not in later
    assert f"pat_{token.token_prefix}…" in later and "Report script" in later
    assert "Active" in later


def test_the_form_says_what_is_wrong_beside_the_field(as_user, world):
    client = as_user(world.member)
    for data, words in (({"name": "", "expires_in_days": ""}, "This field is required"),
                        ({"name": "A", "expires_in_days": "0"}, "at least 1 day"),
                        ({"name": "A", "expires_in_days": "soon"}, "whole number of days"),
                        ({"name": "A", "expires_in_days": "400"}, "at most 365 days")):
        response = client.post(PROFILE, data)
        assert response.status_code == 400
        html = response.content.decode()
        assert words in html and 'class="error"' in html
        assert not TOKEN.search(html)
    assert not PersonalToken.objects.exists()


def test_revoking_a_token_stops_it(as_user, world):
    token, raw = personal_token_create(user=world.member, name="Old script")
    client = as_user(world.member)
    response = client.post(PROFILE, {"revoke": str(token.pk)}, follow=True)
    html = response.content.decode()
    assert "was revoked" in html and "Revoked" in html
    assert 'aria-label="Revoke the token Old script"' not in html
    assert token_authenticate(raw) is None
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_another_persons_token_is_not_found(as_user, world):
    theirs, raw = personal_token_create(user=world.approver, name="Approver's")
    client = as_user(world.member)
    assert client.post(PROFILE, {"revoke": str(theirs.pk)}).status_code == 404
    assert client.post(PROFILE, {"revoke": "abc"}).status_code == 404
    assert client.post(PROFILE, {"revoke": "9" * 30}).status_code == 404
    assert "Approver&#x27;s" not in client.get(PROFILE).content.decode()
    assert token_authenticate(raw) is not None


def test_revoking_needs_the_csrf_token(world):
    token, _raw = personal_token_create(user=world.member, name="Script")
    checked = Client(enforce_csrf_checks=True)
    checked.force_login(world.member,
                        backend="allauth.account.auth_backends.AuthenticationBackend")
    assert checked.post(PROFILE, {"revoke": str(token.pk)}).status_code == 403
    token.refresh_from_db()
    assert token.revoked_at is None


def test_the_page_costs_the_same_queries_for_2_and_20_tokens(as_user, world):
    client = as_user(world.member)

    def count():
        with CaptureQueriesContext(connection) as queries:
            response = client.get(PROFILE)
        assert response.status_code == 200
        return len(queries), response.content.decode().count("<tr>") - 1

    for n in range(2):
        personal_token_create(user=world.member, name=f"Token {n}")
    small, shown = count()
    assert shown == 2
    for n in range(18):
        personal_token_create(user=world.member, name=f"More {n}",
                              expires_at=clock.now() + timedelta(days=3))
    large, shown = count()
    assert shown == 20 and large == small
