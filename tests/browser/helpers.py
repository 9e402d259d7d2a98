"""What the browser tests share: screenshots, a mailbox on a real SMTP server, signing in."""

import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from playwright.sync_api import expect

# The mailbox moved to tests/mail.py (the integration tests read it too); imported from here
# by the browser tests.
from tests.mail import Mailbox, Received  # noqa: F401

SCREENSHOTS = Path(settings.BASE_DIR) / "var" / "screenshots"
README_SCREENSHOTS = Path(settings.BASE_DIR) / "docs" / "screenshots"
# The few pages the README's Tour shows; copied there only with SAVE_README_SCREENSHOTS=1.
README_WORTHY = {
    "flow-02-confirm-code",
    "flow-05-request-form",
    "flow-06-request-history-pending",
    "flow-08-overview-approver",
    "flow-09-approval-detail",
    "flow-12-active-delivered",
    "refused-02-sign-up-refused",
    "link-01-email-link-signed-out",
    "link-03-decide",
    "admin-06-package",
    "sso-01-sign-in",
    "jml-02-leaver-refused",
    "scim-01-target-system",
    "scim-02-request-history-delivered",
    "scim-03-request-history-retrying",
    "review-02-review",
    "review-04-decisions",
    "api-01-token-created",
    "api-02-docs",
    "why-01-rule-not-matched",
    "rule-03-editor-gain-and-lose",
}

PASSWORD = "Falcon-flies-high-42"
FACTORY_PASSWORD = "pw-for-tests-1"  # tests.factories.UserFactory's
PASSWORD_LABEL = re.compile(r"^Password:?$")  # not "Password (again)"


def screenshot(page, name: str, *, full_page: bool = True) -> Path:
    """Save the whole page (or its first screen) as var/screenshots/<name>.png (and in
    docs/screenshots/ when asked)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    if name in README_WORTHY and os.environ.get("SAVE_README_SCREENSHOTS") == "1":
        README_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, README_SCREENSHOTS / path.name)
    return path


def verified(user):
    """Give a factory-made person the verified address that allauth's sign-in asks for."""
    from allauth.account.models import EmailAddress

    EmailAddress.objects.update_or_create(
        user=user, email=user.email, defaults={"verified": True, "primary": True})
    return user


# The last time step whose code each authenticator (by its secret) used: allauth takes a
# code only once.
_USED_STEPS: dict[str, int] = {}


def fresh_totp_code(user) -> str:
    """The code `user`'s authenticator app shows, from a time step that is neither about to
    end (allauth allows no drift by default) nor already used."""
    from allauth.mfa import app_settings
    from allauth.mfa.models import Authenticator

    from tests.factories import totp_code

    secret = Authenticator.objects.get(user=user, type=Authenticator.Type.TOTP).data["secret"]
    period = app_settings.TOTP_PERIOD
    while True:
        now = time.time()
        step = int(now) // period
        if now % period < period - 3 and _USED_STEPS.get(secret) != step:
            break
        time.sleep(period - now % period + 0.1)
    _USED_STEPS[secret] = step
    return totp_code(user)


def pass_two_step(page, address: str) -> None:
    """Enter the authenticator app's code if the person has one (strong roles do)."""
    from allauth.mfa.models import Authenticator

    from governance.models import User

    user = User.objects.get(email__iexact=address)
    if not Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists():
        return
    expect(page.get_by_role("heading", name="Two-step verification", level=1)).to_be_visible()
    page.get_by_label("Code").fill(fresh_totp_code(user))
    page.get_by_role("button", name="Verify").click()


def sign_in(page, address: str, password: str = FACTORY_PASSWORD, *,
            shot: str | None = None) -> None:
    """Sign in on /accounts/login/ with email and password (and the authenticator app's code
    when the person has one); land on the Overview."""
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(address)
    page.get_by_label(PASSWORD_LABEL).fill(password)
    if shot:
        screenshot(page, shot)
    page.get_by_role("button", name="Sign in", exact=True).click()
    pass_two_step(page, address)
    expect(page.get_by_role("heading", name="Overview", level=1)).to_be_visible()
    if shot:
        screenshot(page, f"{shot}-overview")


def sign_in_with_code(page, address: str, mailbox: "Mailbox", *, shot: str) -> None:
    """Sign in with the code that /accounts/login/ offers to email; land on the Overview."""
    page.goto("/accounts/login/")
    page.get_by_role("link", name="Sign in with a code").click()
    page.get_by_label("Email").fill(address)
    screenshot(page, f"{shot}-request")
    already = len(mailbox.to(address))
    page.get_by_role("button", name=re.compile("code", re.IGNORECASE)).click()
    page.get_by_label("Code").fill(mailbox.latest_code(address, after=already))
    screenshot(page, f"{shot}-enter")
    page.get_by_role("button", name="Confirm").click()
    pass_two_step(page, address)
    expect(page.get_by_role("heading", name="Overview", level=1)).to_be_visible()


def reload_until(page, locator, *, timeout: float = 20.0) -> None:
    """Reload until `locator` shows: the worker delivers in its own time."""
    deadline = time.monotonic() + timeout
    while not locator.count():
        if time.monotonic() > deadline:
            raise AssertionError(f"{locator} did not appear within {timeout} s")
        time.sleep(0.3)
        page.reload()


@dataclass
class Falcon:
    """One package for Contoso's people, one approval stage, one question."""

    organization: object
    approver: object
    package: object
    policy: object
    question: object


def build_falcon() -> Falcon:
    from datetime import timedelta

    from governance.choices import AllowedTargetScope
    from tests.factories import (
        CatalogFactory,
        GroupFactory,
        OrganizationFactory,
        PackageFactory,
        PolicyFactory,
        UserFactory,
        add_question,
        add_stage,
        group_role,
    )

    organization = OrganizationFactory(display_name="Contoso", domain="contoso.example")
    approver = verified(UserFactory(email="approver@access.example",
                                    display_name="Avery Approver"))
    catalog = CatalogFactory(display_name="Projects")
    package = PackageFactory(catalog=catalog, display_name="Falcon collaboration",
                             description="Shared files and reports of Project Falcon.")
    group_role(package, GroupFactory(display_name="Project Falcon"))
    group_role(package, GroupFactory(display_name="Falcon Reports"))
    policy = PolicyFactory(
        access_package=package, display_name="Contoso partners",
        allowed_target_scope=AllowedTargetScope.SPECIFIC_CONNECTED_ORG_USERS,
        is_requestor_justification_required=True, expiration_duration=timedelta(days=30))
    policy.specific_connected_organizations.add(organization)
    add_stage(policy, approver)
    question = add_question(policy, "Which project code?", regex_pattern=r"[A-Z]{3}-\d{4}")
    # A second package for Contoso, so that searching has something to leave out.
    newsletter = PackageFactory(catalog=catalog, display_name="Partner newsletter",
                                description="The monthly letter to our partners.")
    group_role(newsletter, GroupFactory(display_name="Newsletter readers"))
    PolicyFactory(access_package=newsletter, display_name="Contoso readers",
                  allowed_target_scope=AllowedTargetScope.SPECIFIC_CONNECTED_ORG_USERS,
                  ).specific_connected_organizations.add(organization)
    return Falcon(organization, approver, package, policy, question)
