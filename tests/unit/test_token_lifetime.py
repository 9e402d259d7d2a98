"""Every personal API token ends: API_TOKEN_DEFAULT_DAYS when no lifetime is chosen, never
more than API_TOKEN_MAX_DAYS, whichever door (page, command, API) asks the service."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from governance import clock
from governance.models import AuditEvent, PersonalToken
from governance.services.api_tokens import personal_token_create, token_authenticate
from governance.services.errors import InvalidInput
from tests.factories import UserFactory


@pytest.fixture
def person(db):
    return UserFactory(email="script.writer@access.example")


@pytest.fixture
def now(monday):
    return clock.now()


def refused_lifetime(assert_refused, action, *words):
    before = PersonalToken.objects.count()
    refusal = assert_refused(action, InvalidInput, *words)
    assert refusal.field == "expiresAt"
    assert PersonalToken.objects.count() == before
    return refusal


def test_a_token_without_a_chosen_lifetime_lasts_the_default_90_days(person, now):
    token, raw = personal_token_create(user=person, name="laptop")
    assert token.expires_at == now + timedelta(days=90)
    event = AuditEvent.objects.get(action="personalToken.created")
    assert event.after["expiresAt"] == token.expires_at.isoformat()
    assert token_authenticate(raw) is not None


def test_the_command_line_token_lasts_the_default_too(person, now):
    out = StringIO()
    call_command("create_user_token", person.email, stdout=out)
    assert person.api_tokens.get().expires_at == now + timedelta(days=90)


def test_the_command_line_takes_a_lifetime_within_the_maximum(person, now):
    call_command("create_user_token", person.email, "--days", "30", stdout=StringIO())
    assert person.api_tokens.get().expires_at == now + timedelta(days=30)
    with pytest.raises(CommandError, match="at most 365 days"):
        call_command("create_user_token", person.email, "--days", "400", stdout=StringIO())


def test_more_than_365_days_is_refused_and_365_accepted(person, now, assert_refused):
    refused_lifetime(assert_refused,
                     lambda: personal_token_create(user=person, name="a", lifetime_days=400),
                     "tokenLifetimeTooLong", "at most 365 days", "365 days or fewer")
    refused_lifetime(assert_refused, lambda: personal_token_create(
        user=person, name="a", expires_at=now + timedelta(days=365, seconds=1)),
        "tokenLifetimeTooLong", "at most 365 days")
    # Far beyond any date Python can add: refused, not an overflow.
    refused_lifetime(assert_refused, lambda: personal_token_create(
        user=person, name="a", lifetime_days=10**12), "tokenLifetimeTooLong")
    token, _raw = personal_token_create(user=person, name="year", lifetime_days=365)
    assert token.expires_at == now + timedelta(days=365)
    token, _raw = personal_token_create(user=person, name="date",
                                        expires_at=now + timedelta(days=365))
    assert token.expires_at == now + timedelta(days=365)


def test_a_lifetime_must_be_at_least_a_day_and_given_once(person, now, assert_refused):
    for days in (0, -3):
        refused_lifetime(assert_refused, lambda days=days: personal_token_create(
            user=person, name="a", lifetime_days=days), "invalidInput", "at least 1 day")
    refused_lifetime(assert_refused, lambda: personal_token_create(
        user=person, name="a", lifetime_days=True), "invalidInput", "whole number of days")
    refused_lifetime(assert_refused, lambda: personal_token_create(
        user=person, name="a", lifetime_days=30, expires_at=now + timedelta(days=30)),
        "invalidInput", "not both")


def test_the_limits_follow_the_settings(person, now, settings, assert_refused):
    settings.API_TOKEN_MAX_DAYS = 30
    settings.API_TOKEN_DEFAULT_DAYS = 7
    refused_lifetime(assert_refused,
                     lambda: personal_token_create(user=person, name="a", lifetime_days=31),
                     "tokenLifetimeTooLong", "at most 30 days")
    token, _raw = personal_token_create(user=person, name="month", lifetime_days=30)
    assert token.expires_at == now + timedelta(days=30)
    token, _raw = personal_token_create(user=person, name="default")
    assert token.expires_at == now + timedelta(days=7)
    settings.API_TOKEN_MAX_DAYS = 400
    token, _raw = personal_token_create(user=person, name="longer", lifetime_days=400)
    assert token.expires_at == now + timedelta(days=400)


def test_a_default_above_the_maximum_is_cut_to_the_maximum(person, now, settings):
    settings.API_TOKEN_MAX_DAYS = 30
    token, _raw = personal_token_create(user=person, name="default")
    assert token.expires_at == now + timedelta(days=30)
