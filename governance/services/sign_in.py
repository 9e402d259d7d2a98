"""Single sign-on for the people the directory already holds: the joiner provisioned by SCIM,
a CSV or an administrator signs in through the organisation's identity provider at once."""

from allauth.account.models import EmailAddress
from django.db import transaction

from governance.models import User
from governance.selectors.directory import sign_in_refusal_reason
from governance.selectors.sign_in import may_sign_in
from governance.services.audit import audit_record
from governance.services.errors import NotAllowed


@transaction.atomic
def person_sign_in_connect(*, person: User, provider: str, uid: str, matched_by: str,
                           address: str) -> User:
    """Ready `person`, whom `provider`'s sign-in (its id of them: `uid`) named by `matched_by`
    (email or external_id), to be signed in by it; the caller then links the provider's
    account to them. Refuses, having written nothing, a person who may not sign in.

    `address` (the one the provider verified, else the person's own) is recorded as verified:
    the provider has just vouched for the person it belongs to, so the sign-in asks for no
    emailed code. A password on an address nobody had verified is wiped first, as allauth
    does when it signs in by email: whoever signed up with that address before its owner
    came would otherwise keep a way in.
    """
    person = User.objects.select_for_update().get(pk=person.pk)
    if not may_sign_in(person):
        raise NotAllowed(sign_in_refusal_reason(person), code="signInRefused")
    if address.lower() == person.email.lower():
        address = person.email
    row = EmailAddress.objects.filter(user=person, email__iexact=address).first()
    wiped = person.has_usable_password() and not (row and row.verified)
    if wiped:
        person.set_unusable_password()
        person.save(update_fields=["password"])
    vouched = False
    if row is None:
        # Somebody else's verified address (their secondary) is left to them: the sign-in
        # then asks this person to verify theirs, as it would have without single sign-on.
        taken = EmailAddress.objects.filter(email__iexact=address, verified=True).exists()
        if not taken:
            primary = not EmailAddress.objects.filter(user=person, primary=True).exists()
            EmailAddress.objects.create(user=person, email=address, verified=True,
                                        primary=primary)
            vouched = True
    elif not row.verified:
        row.verified = True
        row.save(update_fields=["verified"])
        vouched = True
    audit_record(actor=person, action="user.signInConnected", obj=person,
                 after={"provider": provider, "uid": uid},
                 details={"matchedBy": matched_by, "address": address,
                          "addressVerified": vouched, "passwordWiped": wiped})
    return person
