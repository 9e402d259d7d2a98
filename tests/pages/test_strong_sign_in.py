"""Strong sign-in for strong roles: global administrators and catalog role holders need an
authenticator app (TOTP) before the admin or their own API tokens, and are led to set one
up; creating a token asks for the password (or a code) again unless given minutes ago."""

import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import SECRET_SESSION_KEY, format_hotp_value, hotp_value
from django.contrib.messages import get_messages
from django.urls import reverse

from governance import clock
from governance.choices import CatalogRole
from governance.models import Catalog, PersonalToken
from tests.factories import UserFactory, role_holder, totp_code, with_totp
from tests.pages.test_admin_permission_grid import admin_urls

PROFILE = reverse("profile")
SETUP = reverse("mfa_activate_totp")
REAUTHENTICATE = reverse("account_reauthenticate")
TOKEN = re.compile(r"pat_[0-9a-f]{8}\.[A-Za-z0-9_-]+")
# Frozen, so that the codes computed here are the ones allauth expects.
NOON = "2031-03-04 12:00:05Z"


@pytest.fixture
def bare_owner(world):
    """An owner of the world's catalog who has not set up an authenticator app."""
    return role_holder(world.catalog, CatalogRole.OWNER, totp=False,
                       email="new.owner@access.example")


def led_to_setup(response, back: str) -> bool:
    location = urlsplit(response.headers.get("Location", ""))
    return (response.status_code == 302 and location.path == SETUP
            and parse_qs(location.query) == {"next": [back]})


def said(response, words: str) -> bool:
    return any(words in str(message) for message in get_messages(response.wsgi_request))


def create(client, name="Report script", days="30"):
    return client.post(PROFILE, {"name": name, "expires_in_days": days})


# The admin


def test_a_catalog_owner_without_two_step_is_led_to_set_it_up_from_every_admin_page(
        as_user, world, bare_owner):
    client = as_user(bare_owner)
    index = client.get(reverse("admin:index"))
    assert led_to_setup(index, "/admin/")
    assert said(index, "The admin asks for two-step verification")
    catalog_page = reverse("admin:governance_catalog_change", args=[world.catalog.pk])
    assert led_to_setup(client.get(catalog_page), catalog_page)
    # Signing in and out stay open (sign-in is allauth's page, not the admin's).
    doors = {reverse("admin:login"), reverse("admin:logout")}
    objects = {Catalog: [world.catalog], type(world.package): [world.package]}
    urls = [url for url in admin_urls(objects) if url not in doors]
    assert len(urls) > 50
    for url in urls:
        assert led_to_setup(client.get(url), url), url


def test_without_two_step_an_admin_post_changes_nothing(as_user, world, bare_owner):
    client = as_user(bare_owner)
    page = reverse("admin:governance_catalog_change", args=[world.catalog.pk])
    response = client.post(page, {"display_name": "Renamed", "state": "published"})
    assert led_to_setup(response, page)
    world.catalog.refresh_from_db()
    assert world.catalog.display_name == "Projects"


def test_a_global_administrator_without_two_step_is_led_to_set_it_up(as_user, world):
    admin = UserFactory(email="global@access.example", is_superuser=True, totp=False)
    assert led_to_setup(as_user(admin).get(reverse("admin:index")), "/admin/")


def test_with_an_authenticator_app_they_open_the_admin(as_user, world, bare_owner):
    for person in (with_totp(bare_owner), world.owner,
                   UserFactory(email="global@access.example", is_superuser=True)):
        client = as_user(person)
        assert client.get(reverse("admin:index")).status_code == 200
        assert client.get(reverse("admin:governance_catalog_change",
                                  args=[world.catalog.pk])).status_code == 200


def test_every_catalog_role_needs_two_step(as_user, world):
    for role in CatalogRole.values:
        person = role_holder(world.catalog, role, totp=False,
                             email=f"{role.lower()}.bare@access.example")
        assert led_to_setup(as_user(person).get(reverse("admin:index")), "/admin/"), role


@time_machine.travel(NOON, tick=False)
def test_after_setting_up_the_app_they_are_back_on_the_admin_page(as_user, world,
                                                                   bare_owner):
    client = as_user(bare_owner)
    page = reverse("admin:governance_catalog_changelist")
    setup = client.get(page)["Location"]
    # allauth asks for the password before an authenticator is added, then goes on.
    asked = client.get(setup)
    assert asked["Location"].startswith(REAUTHENTICATE)
    resumed = client.post(asked["Location"], {"password": "pw-for-tests-1"})
    assert resumed["Location"] == setup
    form = client.get(setup)
    assert form.status_code == 200 and 'for="id_code"' in form.content.decode()
    secret = client.session[SECRET_SESSION_KEY]
    code = format_hotp_value(hotp_value(secret, int(clock.now().timestamp()) // 30))
    done = client.post(SETUP, {"code": code})
    assert done.status_code == 302 and done["Location"] == page
    assert said(done, "recovery codes")
    assert Authenticator.objects.filter(user=bare_owner, type="totp").exists()
    assert client.get(page).status_code == 200


@time_machine.travel(NOON, tick=False)
def test_set_up_from_the_menu_it_goes_on_as_allauth_does(as_user, world, bare_owner,
                                                         reauthenticate):
    client = reauthenticate(as_user(bare_owner))
    assert client.get(f"{SETUP}?next=/admin/").status_code == 200  # and left unfinished
    assert client.get(SETUP).status_code == 200
    secret = client.session[SECRET_SESSION_KEY]
    code = format_hotp_value(hotp_value(secret, int(clock.now().timestamp()) // 30))
    done = client.post(SETUP, {"code": code})
    assert done["Location"] == reverse("mfa_view_recovery_codes")


# API tokens on the Profile page


def test_a_catalog_owner_without_two_step_cannot_create_a_token(as_user, world, bare_owner,
                                                                reauthenticate):
    client = reauthenticate(as_user(bare_owner))
    html = client.get(PROFILE).content.decode()
    assert "need two-step verification first" in html
    assert f'href="{SETUP}?next=%2Fprofile%2F%23create-token"' in html
    assert "Create token</button>" not in html
    response = create(client)
    assert led_to_setup(response, f"{PROFILE}#create-token")
    assert said(response, "your API tokens need two-step verification")
    assert not PersonalToken.objects.exists()


def test_with_an_authenticator_app_the_owner_creates_a_token(as_user, world, reauthenticate):
    client = reauthenticate(as_user(world.owner))
    assert "Create token</button>" in client.get(PROFILE).content.decode()
    response = create(client)
    assert response.status_code == 200 and TOKEN.search(response.content.decode())
    assert PersonalToken.objects.get().user == world.owner


def test_people_without_a_role_create_tokens_without_two_step(as_user, world,
                                                              reauthenticate):
    for person in (world.member, world.requester):
        client = reauthenticate(as_user(person))
        response = create(client, name=f"Script of {person.email}")
        assert response.status_code == 200 and TOKEN.search(response.content.decode())
        assert person.api_tokens.count() == 1
        assert not Authenticator.objects.filter(user=person).exists()


@time_machine.travel(NOON)
def test_creating_a_token_asks_for_the_password_again_then_returns_to_the_form(as_user,
                                                                               world):
    client = as_user(world.member)
    response = create(client, name="Weekly report", days="90")
    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert location.path == REAUTHENTICATE
    [back] = parse_qs(location.query)["next"]
    assert back == f"{PROFILE}?name=Weekly+report&expires_in_days=90#create-token"
    assert said(response, "confirm it is you")
    assert not PersonalToken.objects.exists()

    wrong = client.post(response["Location"], {"password": "not-it"})
    assert wrong.status_code == 200 and create(client).status_code == 302
    confirmed = client.post(response["Location"], {"password": "pw-for-tests-1"})
    assert confirmed["Location"] == back
    form = client.get(back).content.decode()
    assert 'value="Weekly report"' in form and 'value="90"' in form
    assert not PersonalToken.objects.exists()
    made = create(client, name="Weekly report", days="90")
    assert made.status_code == 200 and TOKEN.search(made.content.decode())

    # Minutes later, the next token asks again.
    with time_machine.travel(clock.now() + timedelta(minutes=6)):
        assert create(client, name="Later").status_code == 302
    assert list(PersonalToken.objects.values_list("name", flat=True)) == ["Weekly report"]


def test_without_any_way_to_confirm_no_token_is_made(as_user, world):
    world.member.set_unusable_password()  # Microsoft only, and no verified address here
    world.member.save(update_fields=["password"])
    response = create(as_user(world.member))
    assert response.status_code == 400
    assert "no password, verified email address or authenticator app" in \
        response.content.decode()
    assert not PersonalToken.objects.exists()


@time_machine.travel(NOON, tick=False)
def test_people_with_an_authenticator_app_may_confirm_with_a_code(as_user, world):
    client = as_user(world.owner)
    assert create(client).status_code == 302
    asked = client.get(REAUTHENTICATE + "?next=/profile/")
    assert reverse("mfa_reauthenticate") in asked.content.decode()
    response = client.post(reverse("mfa_reauthenticate"), {"code": totp_code(world.owner)})
    assert response.status_code == 302
    made = create(client)
    assert made.status_code == 200 and TOKEN.search(made.content.decode())


# Lifetime, on the page


def test_the_form_offers_the_lifetime_and_defaults_to_90_days(as_user, world, reauthenticate):
    client = reauthenticate(as_user(world.member))
    html = client.get(PROFILE).content.decode()
    assert 'name="expires_in_days" value="90"' in html and "From 1 to 365 days" in html
    before = clock.now()
    assert create(client, days="").status_code == 200
    token = PersonalToken.objects.get()
    assert before + timedelta(days=90) <= token.expires_at <= clock.now() + timedelta(days=90)


def test_the_page_refuses_400_days_before_asking_for_the_password(as_user, world):
    response = create(as_user(world.member), days="400")
    assert response.status_code == 400
    assert "A token lasts at most 365 days; choose 365 days or fewer." in \
        response.content.decode()
    assert not PersonalToken.objects.exists()


def test_the_page_follows_a_changed_maximum(as_user, world, reauthenticate, settings):
    settings.API_TOKEN_MAX_DAYS = 30
    client = reauthenticate(as_user(world.member))
    assert "From 1 to 30 days" in client.get(PROFILE).content.decode()
    refused = create(client, days="31")
    assert refused.status_code == 400 and "at most 30 days" in refused.content.decode()
    assert create(client, days="30").status_code == 200
    assert PersonalToken.objects.count() == 1


def test_a_user_administrator_needs_two_step_too(db):
    from governance.choices import GlobalRole
    from governance.models import GlobalRoleAssignment
    from governance.selectors.sign_in import needs_two_step
    from tests.factories import UserFactory

    person = UserFactory(email="hr@access.example")
    assert not needs_two_step(person)
    GlobalRoleAssignment.objects.create(user=person, role=GlobalRole.USER_ADMIN)
    person.__dict__.pop("_global_roles_cache", None)
    assert needs_two_step(person)
