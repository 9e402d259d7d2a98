"""Read-side questions about people."""

from dataclasses import dataclass

from django.conf import settings
from django.db.models import Q
from django.utils.formats import date_format

from governance import clock
from governance.choices import (
    ASSIGNMENT_ACTIVE,
    AccountState,
    AllowedTargetScope,
    CatalogState,
    ConnectedOrganizationState,
    ExpirationType,
    ExternalUserLifecycleAction,
    SubjectLifecycle,
    UserType,
)
from governance.models import (
    Assignment,
    AssignmentPolicy,
    ConnectedOrganization,
    IdentitySource,
    TenantSettings,
    User,
)

SIGN_IN_DEACTIVATED = ("Your account has been deactivated by your organisation. Ask your "
                       "administrator if you think this is a mistake.")


def sign_in_refusal_reason(user: User) -> str:
    """Why `user` may not sign in (governance.selectors.sign_in.may_sign_in says whether)."""
    if user.user_type == UserType.SERVICE:
        return "This account belongs to an API client; it calls the API with its token."
    # Before the guest lifecycle's states: a leaver deleted by provisioning is deactivated too,
    # and what they can do about it is the same.
    if user.deactivated_at is not None:
        return SIGN_IN_DEACTIVATED
    if user.account_state == AccountState.DELETED:
        return "This account was deleted when its last access package ended."
    if user.account_state == AccountState.BLOCKED:
        reason = (
            "Sign-in is blocked because your last access package ended on "
            f"{date_format(user.blocked_at, 'DATETIME_FORMAT')}. "
            "Ask your sponsor to assign you an access package to sign in again."
        )
        if user.delete_due_at:
            reason += (f" Your account will be deleted on "
                       f"{date_format(user.delete_due_at, 'DATE_FORMAT')}.")
        return reason
    return "This account is disabled. Contact your administrator."


@dataclass(frozen=True)
class SignUpDecision:
    """Whether an address may sign up, and as whom. The one place the sign-up rules live."""

    allowed: bool
    user_type: str = ""
    # The connected organisation the guest joins; None for members, and for a domain that a
    # `proposed` organisation will be created for (propose_organization).
    organization: ConnectedOrganization | None = None
    propose_organization: bool = False
    reason: str = ""


SIGN_UP_REFUSED = ("Sign-up is open to people of our partner organisations, and this "
                   "address's domain is not one of them. Use your work address, or ask your "
                   "contact at our organisation to invite you.")
SIGN_UP_INTERNAL_UNVERIFIED = ("Addresses of our own organisation need proof that the mailbox "
                               "is yours, and this portal does not verify email addresses: "
                               "sign in with Microsoft instead, or ask an administrator to "
                               "turn email verification on.")
SIGN_UP_MICROSOFT_MEMBERS_ONLY = ("Sign-in with Microsoft is for our own staff. Sign up "
                                  "with your email address and a password instead.")


def email_domain(email: str) -> str:
    return email.rsplit("@", 1)[-1].strip().lower()


def organization_for_domain(domain: str) -> ConnectedOrganization | None:
    """The connected organization (configured or proposed) that `domain` belongs to."""
    source = IdentitySource.objects.select_related("organization") \
        .filter(domain_name__iexact=domain).first()
    return source.organization if source else None


def organization_of(*, email: str, user_type: str) -> ConnectedOrganization | None:
    """The connected organization a person belongs to: a guest's is the one their email's
    domain belongs to, whether the guest or the organization came first; members (and API
    clients) belong to none.

    User.connected_organization keeps this for reads; the services that change a person's
    address or type set it from here, and the organization services re-point the guests of
    every domain they add, remove or delete (organizations.guests_follow_domains).
    """
    if user_type != UserType.GUEST:
        return None
    return organization_for_domain(email_domain(email))


def is_internal_email(email: str) -> bool:
    return email_domain(email) in settings.INTERNAL_EMAIL_DOMAINS


def addresses_are_verified() -> bool:
    """Whether an address must prove its mailbox before the account can be used: allauth's
    ACCOUNT_EMAIL_VERIFICATION is "mandatory" (True is its old spelling). With "optional"
    a person signs in before proving anything, which for this purpose is no verification."""
    method = getattr(settings, "ACCOUNT_EMAIL_VERIFICATION", "optional")
    return method is True or method == "mandatory"


def _open_to_all_external_users() -> bool:
    """Some policy that anyone from outside may use: published, externally visible, not ended."""
    ended = Q(expiration_type=ExpirationType.AFTER_DATETIME, expiration_end_at__lte=clock.now())
    return AssignmentPolicy.objects.filter(
        allowed_target_scope=AllowedTargetScope.ALL_EXTERNAL_USERS, enable_self_add=True,
        access_package__catalog__state=CatalogState.PUBLISHED,
        access_package__catalog__is_externally_visible=True,
    ).exclude(ended).exists()


def signup_decision(email: str, *, via_microsoft: bool = False) -> SignUpDecision:
    """May `email` create an account, and as a member or as a guest of which organisation?

    Internal domains (INTERNAL_EMAIL_DOMAINS) make members. A domain of a `configured`
    connected organisation makes a guest of it. Any other domain makes a guest only while some
    published policy allows `allExternalUsers`; a `proposed` organisation is then created for
    it (or reused). Sign-in with Microsoft only ever makes members. Without email verification
    nobody can claim an internal address by typing it: members then come through Microsoft.
    """
    if is_internal_email(email):
        if not via_microsoft and not addresses_are_verified():
            return SignUpDecision(allowed=False, reason=SIGN_UP_INTERNAL_UNVERIFIED)
        return SignUpDecision(allowed=True, user_type=UserType.MEMBER)
    if via_microsoft:
        return SignUpDecision(allowed=False, reason=SIGN_UP_MICROSOFT_MEMBERS_ONLY)
    organization = organization_for_domain(email_domain(email))
    if organization and organization.state == ConnectedOrganizationState.CONFIGURED:
        return SignUpDecision(allowed=True, user_type=UserType.GUEST, organization=organization)
    if _open_to_all_external_users():
        return SignUpDecision(allowed=True, user_type=UserType.GUEST, organization=organization,
                              propose_organization=organization is None)
    return SignUpDecision(allowed=False, reason=SIGN_UP_REFUSED)


def last_access_warning(user: User, assignment: Assignment) -> str | None:
    """What removing `assignment` would do to a guest for whom it is the last access."""
    if user.user_type != UserType.GUEST or user.subject_lifecycle != SubjectLifecycle.GOVERNED:
        return None
    if user.assignments.filter(state__in=ASSIGNMENT_ACTIVE).exclude(pk=assignment.pk).exists():
        return None
    settings = TenantSettings.current()
    if settings.external_user_lifecycle_action == ExternalUserLifecycleAction.NONE:
        return None
    warning = "This is your last access package: once it is removed you can no longer sign in"
    if settings.external_user_lifecycle_action == ExternalUserLifecycleAction.BLOCK_AND_DELETE:
        days = settings.days_until_external_user_deleted_after_blocked
        warning += f", and your account is deleted after {days} days"
    return warning + ", unless someone assigns you access again."
