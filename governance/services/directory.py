"""People joining the directory: the sign-up of a member or of a guest of a partner."""

from django.conf import settings
from django.db import transaction

from governance.models import User
from governance.selectors.directory import signup_decision
from governance.services.audit import audit_record
from governance.services.errors import NotAllowed
from governance.services.organizations import organization_propose_for


@transaction.atomic
def user_sign_up(*, user: User, display_name: str = "", via_microsoft: bool = False,
                 language: str = "", provider: str = "") -> User:
    """Create the account `user` (unsaved, email and password set) under the sign-up rules.

    The person becomes a member (internal domain) or a guest of their connected organisation,
    which is created as `proposed` when an `allExternalUsers` policy let an unknown domain in.
    Refuses with NotAllowed, having written nothing, when the rules do not let the address in.
    `language` (the browser's, when it is one of settings.LANGUAGES) is kept for their emails.
    `provider`: the sign-in provider's id ("microsoft", "sso") when `via_microsoft`, for the
    audit log: single sign-on signs up under Microsoft's rules, members only.
    """
    if user.pk is not None:
        raise NotAllowed("This account exists already.")
    decision = signup_decision(user.email, via_microsoft=via_microsoft)
    if not decision.allowed:
        raise NotAllowed(decision.reason)
    user.username = user.email
    user.user_type = decision.user_type
    user.connected_organization = decision.organization
    user.display_name = (display_name.strip() or user.get_full_name()
                         or user.email.split("@", 1)[0])[:200]
    user.preferred_language = language if language in dict(settings.LANGUAGES) else ""
    user.save()
    if decision.propose_organization:
        organization_propose_for(user=user, actor=user)
    audit_record(actor=user, action="user.signedUp", obj=user, after={
        "email": user.email, "userType": user.user_type, "displayName": user.display_name,
        "connectedOrganizationId": user.connected_organization_id,
        "preferredLanguage": user.preferred_language,
    }, details={"method": (provider or "microsoft") if via_microsoft else "email"})
    return user
