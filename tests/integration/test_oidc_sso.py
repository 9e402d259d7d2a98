"""Single sign-on through a real OpenID Connect provider on loopback (oidc-provider-mock).

Every sign-in goes the whole way by hand: the portal's sign-in button (a POST) sends the
browser to the provider's authorize page, the person signs in there, and the provider sends
them back to the portal's callback with a code that allauth exchanges, server to server, for
their ID token and userinfo. People the directory holds are signed in as themselves at once;
leavers are refused with the reason; newcomers follow the sign-up rules.
"""

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount
from django.core import mail
from django.urls import reverse

from governance.choices import UserType
from governance.models import AuditEvent, User
from governance.selectors.directory import SIGN_IN_DEACTIVATED
from governance.services.people import person_create, person_deactivate
from portal.adapters import SIGN_IN_AMBIGUOUS
from tests.factories import OrganizationFactory, UserFactory
from tests.oidc_provider import PROVIDER_ID

ROOT = Path(__file__).resolve().parents[2]
LOGIN = reverse("account_login")
SSO_LOGIN = reverse("openid_connect_login", kwargs={"provider_id": PROVIDER_ID})
CALLBACK = reverse("openid_connect_callback", kwargs={"provider_id": PROVIDER_ID})
PASSWORD = "a-long-passphrase-42"
MEMBERS_ONLY = "Single sign-on is for our own staff."


@pytest.fixture(scope="module")
def provider(oidc_provider):
    return oidc_provider


@pytest.fixture(scope="module")
def client_registration(provider):
    """The portal, registered with the provider under the callback address the README gives."""
    return provider.register(f"http://testserver{CALLBACK}")


@pytest.fixture
def sso(settings, provider, client_registration):
    """Single sign-on switched on, matched by email; `sso(match_claim=...)` changes it."""

    def configure(**options):
        settings.SOCIALACCOUNT_PROVIDERS = {
            **settings.SOCIALACCOUNT_PROVIDERS, **provider.apps(client_registration, **options)}
        return provider

    configure()
    return configure


@pytest.fixture(autouse=True)
def own_cache(settings):
    """Rate limits count in the cache: a fresh one per test, never Redis."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": f"sso-{uuid.uuid4().hex}"}}


@pytest.fixture
def admin(db, fast_passwords):
    return UserFactory(email="admin@access.example", is_superuser=True)


@pytest.fixture
def joiner(admin):
    """A member the identity provider pushed by SCIM: no password, no address row, no link."""
    return person_create(actor=admin, values={
        "email": "jo.iner@access.example", "display_name": "Jo Iner",
        "external_id": "00u-okta-jo", "department": "Finance"})


def sign_in_by_sso(client, provider, sub: str):
    """The person `sub` signs in through the provider; the portal's answer to the callback."""
    start = client.post(SSO_LOGIN, {"process": "login"})
    assert start.status_code == 302, start.content[:500]
    back = urlsplit(provider.approve(start["Location"], sub))
    assert (back.scheme, back.netloc, back.path) == ("http", "testserver", CALLBACK)
    return client.get(f"{back.path}?{back.query}")


def signed_in_as(client) -> User | None:
    user = client.get(reverse("account_email")).wsgi_request.user
    return user if user.is_authenticated else None


def page_after(client, response) -> str:
    assert response.status_code == 302, response.content[:500]
    return client.get(response["Location"]).content.decode()


# The joiner


def test_a_provisioned_member_signs_in_by_email_at_once(client, sso, joiner):
    sso().person("jo-sub-1", email="Jo.Iner@access.example", email_verified=True,
                 name="Jo Iner")
    people = User.objects.count()

    response = sign_in_by_sso(client, sso(), "jo-sub-1")

    assert response.status_code == 302 and response["Location"] == "/"
    assert signed_in_as(client) == joiner
    assert User.objects.count() == people  # no sign-up
    assert not mail.outbox  # no code to confirm the address: the provider vouched for it
    assert SocialAccount.objects.get(provider=PROVIDER_ID, uid="jo-sub-1").user == joiner
    address = EmailAddress.objects.get(user=joiner)
    assert (address.email, address.verified, address.primary) == (joiner.email, True, True)
    event = AuditEvent.objects.get(action="user.signInConnected", object_id=str(joiner.pk))
    assert event.details["matchedBy"] == "email"
    assert event.after == {"provider": PROVIDER_ID, "uid": "jo-sub-1"}


def test_the_next_sign_in_uses_the_link_made_the_first_time(client, sso, joiner):
    sso().person("jo-sub-2", email=joiner.email, email_verified=True)
    sign_in_by_sso(client, sso(), "jo-sub-2")
    client.post(reverse("account_logout"))
    assert signed_in_as(client) is None

    response = sign_in_by_sso(client, sso(), "jo-sub-2")
    assert response["Location"] == "/"
    assert signed_in_as(client) == joiner
    assert AuditEvent.objects.filter(action="user.signInConnected").count() == 1


def test_an_address_the_provider_did_not_verify_names_nobody(client, sso, joiner):
    sso().person("jo-sub-3", email=joiner.email, email_verified=False)
    people = User.objects.count()
    response = sign_in_by_sso(client, sso(), "jo-sub-3")
    # allauth's sign-up of a taken address, which tells nobody whether it is taken.
    assert response["Location"] == reverse("account_email_verification_sent")
    assert signed_in_as(client) is None
    assert User.objects.count() == people
    assert not SocialAccount.objects.filter(user=joiner).exists()


def test_a_password_on_an_address_nobody_verified_is_wiped_when_its_owner_signs_in(
        client, sso, db, fast_passwords):
    # Somebody set up this account with a password and the address was never confirmed.
    squatted = UserFactory(email="pat@access.example", password=PASSWORD)
    sso().person("pat-sub", email="pat@access.example", email_verified=True)

    sign_in_by_sso(client, sso(), "pat-sub")

    assert signed_in_as(client) == squatted
    squatted.refresh_from_db()
    assert not squatted.has_usable_password()
    assert AuditEvent.objects.get(action="user.signInConnected").details["passwordWiped"]


def test_matched_by_external_id_whatever_the_email_says(client, sso, joiner):
    provider = sso(match_claim="external_id")
    provider.person(joiner.external_id, email="jo@personal-mail.example", email_verified=True)

    response = sign_in_by_sso(client, provider, joiner.external_id)

    assert response["Location"] == "/"
    assert signed_in_as(client) == joiner
    assert not User.objects.filter(email="jo@personal-mail.example").exists()
    assert EmailAddress.objects.get(user=joiner).email == joiner.email
    event = AuditEvent.objects.get(action="user.signInConnected")
    assert event.details["matchedBy"] == "external_id"


def test_the_external_id_claim_can_be_another_than_sub(client, sso, joiner):
    provider = sso(match_claim="external_id", external_id_claim="oid")
    provider.person("pairwise-sub-9", oid=joiner.external_id, email_verified=False)
    response = sign_in_by_sso(client, provider, "pairwise-sub-9")
    assert response["Location"] == "/"
    assert signed_in_as(client) == joiner


def test_matching_by_external_id_does_not_fall_back_to_the_email(client, sso, joiner):
    provider = sso(match_claim="external_id")
    provider.person("someone-else", email=joiner.email, email_verified=True)
    people = User.objects.count()
    sign_in_by_sso(client, provider, "someone-else")
    assert signed_in_as(client) is None
    assert User.objects.count() == people
    assert not SocialAccount.objects.filter(user=joiner).exists()


def test_an_external_id_two_people_share_signs_nobody_in(client, sso, db):
    UserFactory(email="one@access.example", external_id="dup-1")
    UserFactory(email="two@access.example", external_id="dup-1")
    provider = sso(match_claim="external_id")
    provider.person("dup-1", email="one@access.example", email_verified=True)

    response = sign_in_by_sso(client, provider, "dup-1")

    assert response["Location"] == LOGIN
    assert SIGN_IN_AMBIGUOUS in page_after(client, response)
    assert signed_in_as(client) is None
    assert not SocialAccount.objects.exists()


def test_a_provisioned_guest_is_refused_single_sign_on(client, sso, admin):
    OrganizationFactory(display_name="Contoso", domain="contoso.example")
    guest = person_create(actor=admin, values={"email": "gia@contoso.example",
                                               "user_type": UserType.GUEST})
    sso().person("gia-sub", email=guest.email, email_verified=True)

    response = sign_in_by_sso(client, sso(), "gia-sub")

    assert response["Location"] == LOGIN
    assert MEMBERS_ONLY in page_after(client, response)
    assert not SocialAccount.objects.filter(user=guest).exists()


# The leaver


def test_a_deactivated_person_is_refused_single_sign_on_with_the_reason(client, sso, admin,
                                                                        joiner):
    person_deactivate(actor=admin, user_id=joiner.pk, reason="Left the company.")
    sso().person("jo-sub-4", email=joiner.email, email_verified=True)

    response = sign_in_by_sso(client, sso(), "jo-sub-4")

    assert response["Location"] == reverse("account_inactive")
    assert SIGN_IN_DEACTIVATED in page_after(client, response)
    assert signed_in_as(client) is None
    assert not SocialAccount.objects.filter(user=joiner).exists()


def test_a_leaver_who_signed_in_by_sso_before_is_refused_with_the_reason(client, sso, admin,
                                                                         joiner):
    sso().person("jo-sub-5", email=joiner.email, email_verified=True)
    sign_in_by_sso(client, sso(), "jo-sub-5")
    client.post(reverse("account_logout"))
    person_deactivate(actor=admin, user_id=joiner.pk)

    response = sign_in_by_sso(client, sso(), "jo-sub-5")

    assert response["Location"] == reverse("account_inactive")
    assert SIGN_IN_DEACTIVATED in page_after(client, response)
    assert signed_in_as(client) is None


def test_a_deactivated_person_is_refused_their_password_with_the_reason(client, admin):
    leaver = UserFactory(email="lee@access.example", password=PASSWORD)
    EmailAddress.objects.create(user=leaver, email=leaver.email, verified=True, primary=True)
    person_deactivate(actor=admin, user_id=leaver.pk)

    response = client.post(LOGIN, {"login": leaver.email, "password": PASSWORD})

    assert response["Location"] == reverse("account_inactive")
    html = page_after(client, response)
    assert SIGN_IN_DEACTIVATED in html
    assert "This account cannot sign in at the moment" not in html  # the reason, not a guess
    assert signed_in_as(client) is None


# Newcomers: the sign-up rules


def test_a_newcomer_of_an_internal_domain_signs_up_as_a_member(client, sso, db):
    sso().person("nia-sub", email="nia@access.example", email_verified=True, name="Nia Ng")

    response = sign_in_by_sso(client, sso(), "nia-sub")

    assert response["Location"] == "/"
    newcomer = signed_in_as(client)
    assert newcomer.email == "nia@access.example"
    assert newcomer.user_type == UserType.MEMBER and newcomer.display_name == "Nia Ng"
    assert not newcomer.has_usable_password()
    signed_up = AuditEvent.objects.get(action="user.signedUp", object_id=str(newcomer.pk))
    assert signed_up.details["method"] == PROVIDER_ID  # not "microsoft"
    assert not AuditEvent.objects.filter(action="user.signInConnected").exists()


def test_a_newcomer_of_a_partner_domain_is_refused_sign_up(client, sso, db):
    OrganizationFactory(display_name="Contoso", domain="contoso.example")
    sso().person("cy-sub", email="cy@contoso.example", email_verified=True)

    response = sign_in_by_sso(client, sso(), "cy-sub")

    assert response["Location"] == LOGIN
    assert MEMBERS_ONLY in page_after(client, response)
    assert not User.objects.filter(email="cy@contoso.example").exists()


# The sign-in page and the configuration


def test_the_sign_in_page_has_no_sso_button_unless_configured(client, db):
    html = client.get(LOGIN).content.decode()
    assert SSO_LOGIN not in html and "Single sign-on" not in html


def test_the_sign_in_page_shows_the_sso_button_with_its_name(client, sso, db):
    sso(name="Contoso Okta")
    html = client.get(LOGIN).content.decode()
    assert f'action="{SSO_LOGIN}?process=login"' in html
    assert '<button type="submit" class="secondary">Contoso Okta</button>' in html


def read_settings(tmp_path, **environment) -> subprocess.CompletedProcess:
    code = ("import json; from portal import settings; "
            "print(json.dumps(settings.SOCIALACCOUNT_PROVIDERS))")
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "VAR_DIR": str(tmp_path / "var"),
           "PYTHONPATH": str(ROOT), "DEBUG": "1", **environment}
    return subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=120)


def test_the_oidc_variables_make_the_provider_the_tests_use(tmp_path, provider):
    secret = tmp_path / "oidc_secret"
    secret.write_text("s3cret\n")
    configured = read_settings(
        tmp_path, OIDC_ISSUER_URL=f"{provider.issuer}/", OIDC_CLIENT_ID="portal",
        OIDC_CLIENT_SECRET_FILE=str(secret), OIDC_PROVIDER_NAME="Contoso Okta",
        OIDC_MATCH_CLAIM="external_id", OIDC_EXTERNAL_ID_CLAIM="oid")
    assert configured.returncode == 0, configured.stderr
    assert json.loads(configured.stdout)["openid_connect"] == provider.apps(
        {"client_id": "portal", "client_secret": "s3cret"}, name="Contoso Okta",
        match_claim="external_id", external_id_claim="oid")["openid_connect"]

    defaults = read_settings(tmp_path, OIDC_ISSUER_URL=provider.issuer, OIDC_CLIENT_ID="p")
    app = json.loads(defaults.stdout)["openid_connect"]["APPS"][0]
    assert app["name"] == "Single sign-on"
    assert app["settings"]["match_claim"] == "email"
    assert app["settings"]["external_id_claim"] == "sub"

    without_issuer = read_settings(tmp_path, OIDC_CLIENT_ID="portal")
    assert "openid_connect" not in json.loads(without_issuer.stdout)

    wrong = read_settings(tmp_path, OIDC_ISSUER_URL=provider.issuer, OIDC_CLIENT_ID="portal",
                          OIDC_MATCH_CLAIM="upn")
    assert wrong.returncode != 0 and "OIDC_MATCH_CLAIM" in wrong.stderr
