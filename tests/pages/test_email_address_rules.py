"""Addresses follow the sign-up rules through allauth's own pages: one is added only if it could
sign up, becomes primary only if it keeps the account's standing (member, or guest of its
organisation), and without email verification no one claims an internal address."""

import re
import uuid

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.urls import reverse

from governance.choices import AllowedTargetScope, UserType
from governance.models import User
from governance.selectors.directory import SIGN_UP_INTERNAL_UNVERIFIED, signup_decision
from tests.factories import GuestFactory, OrganizationFactory, PolicyFactory, UserFactory

PASSWORD = "a-long-passphrase-42"
EMAILS = reverse("account_email")
CODE_PAGE = reverse("account_email_verification_sent")
NOT_ADDABLE = "You can add only an address you could sign up with"
NOT_PRIMARY = "cannot be your primary address"


@pytest.fixture(autouse=True)
def own_cache(settings):
    """allauth's rate limits count in the cache: a fresh one per test, never Redis."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": f"emails-{uuid.uuid4().hex}"}}
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def contoso(db):
    organization = OrganizationFactory(display_name="Contoso", domain="contoso.example")
    organization.identity_sources.create(domain_name="contoso.test", source_type="domain")
    return organization


@pytest.fixture
def open_to_everyone(db):
    """An allExternalUsers policy: any domain may then sign up, as a guest."""
    return PolicyFactory(allowed_target_scope=AllowedTargetScope.ALL_EXTERNAL_USERS)


def with_address(user: User, *others: str) -> User:
    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    for email in others:
        EmailAddress.objects.create(user=user, email=email, verified=True, primary=False)
    return user


@pytest.fixture
def guest(contoso):
    return with_address(GuestFactory(email="ana@contoso.example", connected_organization=contoso))


def signed_in(client, user):
    client.force_login(user, backend="allauth.account.auth_backends.AuthenticationBackend")
    return client


def add(client, email):
    return client.post(EMAILS, {"email": email, "action_add": ""})


def make_primary(client, email):
    return client.post(EMAILS, {"email": email, "action_primary": ""}, follow=True)


def primary_of(user: User) -> str:
    user.refresh_from_db()
    assert EmailAddress.objects.get(user=user, primary=True).email == user.email
    return user.email


def code_in(message) -> str:
    return re.search(r"^\s*([A-Z0-9-]{4,12})\s*$", message.body, re.MULTILINE).group(1)


def sign_up(client, email):
    return client.post(reverse("account_signup"), {"display_name": "Sam", "email": email,
                                                   "password1": PASSWORD,
                                                   "password2": PASSWORD})


# Sign-up without email verification


@pytest.mark.parametrize("method", ["none", "optional"])
def test_without_verification_an_internal_address_cannot_sign_up(client, db, settings, method):
    settings.ACCOUNT_EMAIL_VERIFICATION = method
    response = sign_up(client, "sam@access.example")
    assert response.status_code == 200
    assert SIGN_UP_INTERNAL_UNVERIFIED in " ".join(response.context["form"].errors["email"])
    assert SIGN_UP_INTERNAL_UNVERIFIED in response.content.decode()
    assert not User.objects.filter(email="sam@access.example").exists()


def test_without_verification_a_partner_still_signs_up(client, contoso, settings):
    settings.ACCOUNT_EMAIL_VERIFICATION = "none"
    assert sign_up(client, "bo@contoso.example").status_code == 302
    assert User.objects.get(email="bo@contoso.example").connected_organization == contoso


def test_with_verification_an_internal_address_signs_up_as_a_member(client, db):
    assert sign_up(client, "sam@access.example").status_code == 302
    assert User.objects.get(email="sam@access.example").user_type == UserType.MEMBER


def test_without_verification_microsoft_still_signs_members_up(db, settings):
    # Microsoft proves the mailbox: its sign-ups do not depend on our verification.
    settings.ACCOUNT_EMAIL_VERIFICATION = "none"
    assert signup_decision("sam@access.example", via_microsoft=True).allowed
    assert not signup_decision("sam@access.example").allowed


# Adding an address


def test_an_address_that_could_not_sign_up_cannot_be_added(client, guest):
    response = add(signed_in(client, guest), "ana@unknown.example")
    assert response.status_code == 200
    errors = " ".join(response.context["form"].errors["email"])
    assert NOT_ADDABLE in errors and "partner organisations" in errors
    assert NOT_ADDABLE in response.content.decode()
    assert not EmailAddress.objects.filter(email="ana@unknown.example").exists()
    assert not mail.outbox


def test_without_verification_an_internal_address_cannot_be_added(client, guest, settings):
    settings.ACCOUNT_EMAIL_VERIFICATION = "none"
    member = with_address(UserFactory(email="sam@access.example"))
    for person in (guest, member):
        response = add(signed_in(client, person), "boss@access.example")
        assert response.status_code == 200
        assert SIGN_UP_INTERNAL_UNVERIFIED in " ".join(response.context["form"].errors["email"])
    assert not EmailAddress.objects.filter(email="boss@access.example").exists()
    assert not mail.outbox


def test_an_address_that_could_sign_up_is_added_with_its_code(client, guest):
    client = signed_in(client, guest)
    response = add(client, "ana@contoso.test")
    assert response.status_code == 302 and response["Location"] == CODE_PAGE
    assert client.post(CODE_PAGE, {"code": code_in(mail.outbox[-1])}).status_code == 302
    added = EmailAddress.objects.get(email="ana@contoso.test")
    assert added.verified and not added.primary


# Making an address primary


def test_a_guest_cannot_make_a_private_address_primary(client, guest, open_to_everyone):
    EmailAddress.objects.create(user=guest, email="ana@private.example", verified=True)
    response = make_primary(signed_in(client, guest), "ana@private.example")
    assert response.status_code == 200
    html = response.content.decode()
    assert NOT_PRIMARY in html and "a guest of Contoso" in html
    assert "sign up with “ana@private.example” for an account of its own" in html
    assert primary_of(guest) == "ana@contoso.example"
    guest.refresh_from_db()
    assert guest.connected_organization.display_name == "Contoso"


def test_a_guest_cannot_make_an_internal_address_primary(client, guest):
    EmailAddress.objects.create(user=guest, email="ana@access.example", verified=True)
    response = make_primary(signed_in(client, guest), "ana@access.example")
    assert NOT_PRIMARY in response.content.decode()
    assert primary_of(guest) == "ana@contoso.example"
    guest.refresh_from_db()
    assert guest.user_type == UserType.GUEST


def test_a_member_cannot_make_a_partner_address_primary(client, contoso):
    member = with_address(UserFactory(email="sam@access.example"), "sam@contoso.example")
    response = make_primary(signed_in(client, member), "sam@contoso.example")
    assert "a member of our organisation" in response.content.decode()
    assert primary_of(member) == "sam@access.example"


def test_an_address_of_the_same_organisation_becomes_primary(client, guest, settings):
    EmailAddress.objects.create(user=guest, email="ana@contoso.test", verified=True)
    response = make_primary(signed_in(client, guest), "ana@contoso.test")
    assert NOT_PRIMARY not in response.content.decode()
    assert primary_of(guest) == "ana@contoso.test"

    settings.INTERNAL_EMAIL_DOMAINS = ["access.example", "corp.example"]
    member = with_address(UserFactory(email="sam@access.example"), "sam@corp.example")
    make_primary(signed_in(client, member), "sam@corp.example")
    assert primary_of(member) == "sam@corp.example"


def test_a_confirmed_address_does_not_replace_a_missing_primary_one(
        client, contoso, open_to_everyone):
    # Made by an administrator or the directory: no address rows until the email page.
    guest = GuestFactory(email="ana@contoso.example", connected_organization=contoso)
    client = signed_in(client, guest)
    assert client.get(EMAILS).status_code == 200
    assert add(client, "ana@private.example")["Location"] == CODE_PAGE
    assert client.post(CODE_PAGE, {"code": code_in(mail.outbox[-1])}).status_code == 302
    assert EmailAddress.objects.get(email="ana@private.example").verified
    assert primary_of(guest) == "ana@contoso.example"
