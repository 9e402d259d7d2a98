"""Sign-up, sign-in (password, emailed code, TOTP), refusals and rate limits, through the pages."""

import re
import uuid
from datetime import timedelta

import pytest
import time_machine
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import (
    SECRET_SESSION_KEY,
    TOTP,
    format_hotp_value,
    hotp_value,
)
from allauth.mfa.utils import decrypt
from django.core import mail
from django.test import Client
from django.urls import reverse

from governance import clock
from governance.choices import (
    AccountState,
    AllowedTargetScope,
    CatalogState,
    ConnectedOrganizationState,
    UserType,
)
from governance.models import AuditEvent, ConnectedOrganization, User
from tests.factories import GuestFactory, OrganizationFactory, PolicyFactory, UserFactory

PASSWORD = "a-long-passphrase-42"
REFUSED = "Sign-up is open to people of our partner organisations"
SIGNUP = reverse("account_signup")
LOGIN = reverse("account_login")


@pytest.fixture(autouse=True)
def own_cache(settings):
    """Rate limits and used TOTP codes count in the cache: a fresh one per test, never Redis."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": f"auth-{uuid.uuid4().hex}"}}


@pytest.fixture
def contoso(db):
    return OrganizationFactory(display_name="Contoso", domain="contoso.example")


def sign_up(client, email, name="Ana Díaz"):
    return client.post(SIGNUP, {"display_name": name, "email": email,
                                "password1": PASSWORD, "password2": PASSWORD})


def code_in(message) -> str:
    return re.search(r"^\s*([A-Z0-9-]{4,12})\s*$", message.body, re.MULTILINE).group(1)


def verified_user(email, **fields) -> User:
    factory = UserFactory if email.endswith("@access.example") else GuestFactory
    user = factory(email=email, password=PASSWORD, **fields)
    EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    return user


def sign_in(client, email, password=PASSWORD):
    return client.post(LOGIN, {"login": email, "password": password})


def signed_in_as(client) -> User | None:
    user = client.get(reverse("account_email")).wsgi_request.user
    return user if user.is_authenticated else None


# Sign-up


def test_sign_up_with_a_partner_address_makes_a_guest_of_that_organisation(client, contoso):
    response = sign_up(client, "ana@Contoso.example")

    assert response.status_code == 302
    assert response["Location"] == reverse("account_email_verification_sent")
    user = User.objects.get(email="ana@contoso.example")
    assert (user.user_type, user.connected_organization, user.display_name) == \
        (UserType.GUEST, contoso, "Ana Díaz")
    assert user.check_password(PASSWORD)
    event = AuditEvent.objects.get(action="user.signedUp", object_id=str(user.pk))
    assert event.after["userType"] == "guest"
    assert event.after["connectedOrganizationId"] == contoso.pk


def test_sign_up_keeps_the_browsers_language_for_the_persons_emails(client, contoso):
    client.post(SIGNUP, {"display_name": "Ana", "email": "ana@contoso.example",
                         "password1": PASSWORD, "password2": PASSWORD},
                HTTP_ACCEPT_LANGUAGE="fr-CA,fr;q=0.9,en;q=0.5")
    sign_up(Client(), "bo@contoso.example", name="Bo")  # no Accept-Language: not known
    assert dict(User.objects.values_list("email", "preferred_language")) == {
        "ana@contoso.example": "fr", "bo@contoso.example": ""}


def test_sign_up_is_confirmed_with_the_emailed_code(client, contoso):
    sign_up(client, "ana@contoso.example")
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["ana@contoso.example"]
    code = code_in(mail.outbox[0])
    confirm = reverse("account_email_verification_sent")

    wrong = client.post(confirm, {"code": "WRONG1"})
    assert wrong.status_code == 200 and wrong.context["form"].errors["code"]
    assert not EmailAddress.objects.filter(email="ana@contoso.example", verified=True).exists()

    response = client.post(confirm, {"code": code})
    assert response.status_code == 302
    assert EmailAddress.objects.get(email="ana@contoso.example").verified
    assert signed_in_as(client).email == "ana@contoso.example"


def test_sign_up_from_an_unknown_domain_is_refused_beside_the_email_field(client, contoso):
    response = sign_up(client, "mallory@unknown.example")

    assert response.status_code == 200
    assert REFUSED in " ".join(response.context["form"].errors["email"])
    html = response.content.decode()
    assert REFUSED in html and 'value="mallory@unknown.example"' in html
    assert not User.objects.filter(email="mallory@unknown.example").exists()
    assert not mail.outbox


def test_sign_up_from_a_proposed_organisation_is_refused_without_an_open_policy(client, db):
    OrganizationFactory(domain="proposed.example", state=ConnectedOrganizationState.PROPOSED)
    response = sign_up(client, "pat@proposed.example")
    assert REFUSED in " ".join(response.context["form"].errors["email"])
    assert not User.objects.filter(email="pat@proposed.example").exists()


def test_an_all_external_users_policy_opens_sign_up_and_proposes_the_organisation(client, db):
    PolicyFactory(allowed_target_scope=AllowedTargetScope.ALL_EXTERNAL_USERS)

    response = sign_up(client, "lee@newcomer.example")

    assert response.status_code == 302
    user = User.objects.get(email="lee@newcomer.example")
    organization = user.connected_organization
    assert user.user_type == UserType.GUEST
    assert (organization.display_name, organization.state) == \
        ("newcomer.example", ConnectedOrganizationState.PROPOSED)
    assert AuditEvent.objects.filter(action="connectedOrganization.proposed").count() == 1
    assert AuditEvent.objects.filter(action="user.signedUp", object_id=str(user.pk)).exists()

    sign_up(client.__class__(), "kim@newcomer.example")
    assert User.objects.get(email="kim@newcomer.example").connected_organization == organization
    assert ConnectedOrganization.objects.count() == 1


@pytest.mark.parametrize("catalog_change", [{"state": CatalogState.UNPUBLISHED},
                                            {"is_externally_visible": False}])
def test_all_external_users_counts_only_in_a_published_externally_visible_catalog(
        client, db, catalog_change):
    policy = PolicyFactory(allowed_target_scope=AllowedTargetScope.ALL_EXTERNAL_USERS)
    catalog = policy.access_package.catalog
    for field, value in catalog_change.items():
        setattr(catalog, field, value)
    catalog.save()
    response = sign_up(client, "lee@newcomer.example")
    assert REFUSED in " ".join(response.context["form"].errors["email"])


def test_an_ended_all_external_users_policy_no_longer_opens_sign_up(client, db):
    PolicyFactory(allowed_target_scope=AllowedTargetScope.ALL_EXTERNAL_USERS,
                  expiration_type="afterDateTime",
                  expiration_end_at=clock.now() - timedelta(days=1))
    response = sign_up(client, "lee@newcomer.example")
    assert REFUSED in " ".join(response.context["form"].errors["email"])


def test_sign_up_with_an_internal_address_makes_a_member(client, db, settings):
    settings.INTERNAL_EMAIL_DOMAINS = ["access.example", "corp.example"]
    response = sign_up(client, "sam@corp.example", name="")
    assert response.status_code == 302
    user = User.objects.get(email="sam@corp.example")
    assert (user.user_type, user.connected_organization, user.display_name) == \
        (UserType.MEMBER, None, "sam")


# Sign-in


def test_sign_in_page_offers_a_code_and_no_microsoft_button_unless_configured(client, db):
    html = client.get(LOGIN).content.decode()
    assert "<h1" in html and ">Sign in</h1>" in html
    assert f'href="{reverse("account_request_login_code")}"' in html
    assert "Sign in with a code" in html
    assert 'for="id_login"' in html and 'for="id_password"' in html
    assert "Sign in with Microsoft" not in html


def test_sign_in_page_shows_microsoft_when_configured(client, db, settings):
    settings.SOCIALACCOUNT_PROVIDERS = {"microsoft": {"APPS": [
        {"client_id": "portal", "secret": "s3cret", "settings": {"tenant": "contoso"}}]}}
    html = client.get(LOGIN).content.decode()
    assert "Sign in with Microsoft" in html
    assert reverse("microsoft_login") in html


def test_sign_in_with_password(client, db):
    verified_user("member@access.example")
    response = sign_in(client, "member@access.example")
    assert response.status_code == 302 and response["Location"] == "/"
    assert signed_in_as(client).email == "member@access.example"


def test_sign_in_with_an_emailed_code(client, db):
    verified_user("member@access.example")
    response = client.post(reverse("account_request_login_code"),
                           {"email": "member@access.example"})
    assert response["Location"] == reverse("account_confirm_login_code")
    code = code_in(mail.outbox[-1])

    response = client.post(reverse("account_confirm_login_code"), {"code": code})
    assert response.status_code == 302
    assert signed_in_as(client).email == "member@access.example"


def blocked_guest(contoso) -> User:
    user = verified_user("gone@contoso.example", connected_organization=contoso)
    now = clock.now()
    User.objects.filter(pk=user.pk).update(
        account_state=AccountState.BLOCKED, is_active=False, blocked_at=now,
        delete_due_at=now + timedelta(days=30))
    return user


def test_blocked_guest_signing_in_with_a_password_is_told_why(client, contoso):
    blocked_guest(contoso)
    response = sign_in(client, "gone@contoso.example")
    assert response["Location"] == reverse("account_inactive")
    html = client.get(response["Location"]).content.decode()
    assert "Sign-in is blocked because your last access package ended" in html
    assert "will be deleted on" in html
    assert signed_in_as(client) is None


def test_blocked_guest_signing_in_with_a_code_is_told_why_after_the_code(client, contoso):
    blocked_guest(contoso)
    client.post(reverse("account_request_login_code"), {"email": "gone@contoso.example"})
    assert mail.outbox[-1].to == ["gone@contoso.example"]

    response = client.post(reverse("account_confirm_login_code"),
                           {"code": code_in(mail.outbox[-1])})
    assert response["Location"] == reverse("account_inactive")
    html = client.get(response["Location"]).content.decode()
    assert "Sign-in is blocked because your last access package ended" in html
    assert signed_in_as(client) is None


def test_account_state_alone_refuses_sign_in(client, contoso):
    user = verified_user("odd@contoso.example", connected_organization=contoso)
    User.objects.filter(pk=user.pk).update(account_state=AccountState.DELETED)
    response = sign_in(client, "odd@contoso.example")
    assert response["Location"] == reverse("account_inactive")
    assert "This account was deleted" in client.get(response["Location"]).content.decode()
    assert signed_in_as(client) is None


def test_repeated_failed_sign_ins_are_rate_limited(client, db):
    verified_user("member@access.example")
    for _ in range(5):
        response = sign_in(client, "member@access.example", "wrong-password")
        assert "too many" not in response.content.decode().lower()
    response = sign_in(client, "member@access.example", "wrong-password")
    assert response.status_code == 200
    assert "too many failed login attempts" in response.content.decode().lower()
    # Even the right password waits now.
    response = sign_in(client, "member@access.example")
    assert "too many failed login attempts" in response.content.decode().lower()
    assert signed_in_as(client) is None


# Two-step verification (TOTP)


@time_machine.travel("2031-03-04 10:00:05Z", tick=False)
def test_activate_totp_then_sign_in_needs_a_valid_code(client, db):
    verified_user("member@access.example")
    sign_in(client, "member@access.example")
    activate = reverse("mfa_activate_totp")
    page = client.get(activate)
    assert page["Location"].startswith(reverse("account_reauthenticate"))
    client.post(page["Location"], {"password": PASSWORD})
    page = client.get(activate)
    assert page.status_code == 200 and 'for="id_code"' in page.content.decode()
    secret = client.session[SECRET_SESSION_KEY]
    now_counter = int(clock.now().timestamp()) // 30

    response = client.post(activate, {"code": format_hotp_value(hotp_value(secret, now_counter))})
    assert response.status_code == 302
    authenticator = Authenticator.objects.get(user__email="member@access.example",
                                              type=Authenticator.Type.TOTP)
    assert decrypt(authenticator.data["secret"]) == secret

    client.post(reverse("account_logout"))
    response = sign_in(client, "member@access.example")
    assert response["Location"] == reverse("mfa_authenticate")
    assert signed_in_as(client) is None
    wrong = client.post(reverse("mfa_authenticate"), {"code": "000000"})
    assert wrong.status_code == 200 and wrong.context["form"].errors["code"]
    assert signed_in_as(client) is None

    code = format_hotp_value(hotp_value(secret, now_counter))
    response = client.post(reverse("mfa_authenticate"), {"code": code})
    assert response.status_code == 302
    assert signed_in_as(client).email == "member@access.example"


@time_machine.travel("2031-03-04 10:00:05Z", tick=False)
def test_totp_is_asked_after_a_sign_in_code_too(client, db):
    user = verified_user("member@access.example")
    secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
    TOTP.activate(user, secret)
    client.post(reverse("account_request_login_code"), {"email": "member@access.example"})
    response = client.post(reverse("account_confirm_login_code"),
                           {"code": code_in(mail.outbox[-1])})
    assert response["Location"] == reverse("mfa_authenticate")
    assert signed_in_as(client) is None
    counter = int(clock.now().timestamp()) // 30
    client.post(reverse("mfa_authenticate"),
                {"code": format_hotp_value(hotp_value(secret, counter))})
    assert signed_in_as(client) == user


# Sign-in with Microsoft: members only


def test_microsoft_sign_up_is_refused_for_a_partner_domain(rf, contoso):
    from allauth.socialaccount.models import SocialAccount, SocialLogin
    from django.contrib.messages.storage.fallback import FallbackStorage

    from portal.adapters import SocialAccountAdapter

    request = rf.get("/accounts/microsoft/login/callback/")
    request.session = {}
    request._messages = FallbackStorage(request)
    adapter = SocialAccountAdapter(request)
    sociallogin = SocialLogin(user=User(email="ana@contoso.example"),
                              account=SocialAccount(provider="microsoft", uid="1"))
    from allauth.core.exceptions import ImmediateHttpResponse

    with pytest.raises(ImmediateHttpResponse) as refused:
        adapter.is_open_for_signup(request, sociallogin)
    assert refused.value.response["Location"] == LOGIN
    assert "for our own staff" in str(list(request._messages)[0])

    member = SocialLogin(user=User(email="sam@access.example"),
                         account=SocialAccount(provider="microsoft", uid="2"))
    assert adapter.is_open_for_signup(request, member)


@pytest.mark.parametrize(("password", "reason"), [
    ("Xq7-kLm2pQ9", "at least 12 characters"),  # 11 characters
    ("password1234", "too common"),
    ("qwerty123456", "too common"),
])
def test_sign_up_refuses_short_and_common_passwords(client, contoso, password, reason):
    response = client.post(SIGNUP, {"display_name": "Ana Díaz", "email": "ana@contoso.example",
                                    "password1": password, "password2": password})
    assert response.status_code == 200
    assert reason in response.content.decode()
    assert not User.objects.filter(email="ana@contoso.example").exists()
