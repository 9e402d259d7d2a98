"""An administrator's email template that goes looking for secrets finds none, in every topic.

For each topic (TOPICS: a new one is covered as soon as it has a scenario), the real services
leave an outbox message; the people have real password hashes and personal API tokens, the
catalog a custom extension with a stored secret, the recipients accounts in a target system
with one, and an API client exists. A template that follows every path to them is saved
through the service, the message is sent through the outbox to an SMTP server on loopback,
and neither what arrived, nor the rendered email, nor the admin's preview holds any of
them. `{% debug %}`, which would print the whole context, is refused at save, and an old
version holding it sends the standard email instead.
"""

from datetime import timedelta
from functools import cache

import pytest
import time_machine
from django.conf import settings
from django.contrib.auth.hashers import make_password

from governance import clock
from governance.models import (
    ApiClient,
    CustomExtension,
    EmailTemplate,
    OutboxMessage,
    PersonalToken,
    SystemAccount,
    TargetSystem,
    User,
)
from governance.notifications import TOPICS, render_email
from governance.notifications.samples import email_preview
from governance.services.api_tokens import api_client_create, personal_token_create
from governance.services.email_templates import email_template_save
from governance.services.errors import InvalidInput
from governance.services.outbox import outbox_send_due
from governance.services.systems import system_save
from tests.extension_helpers import CONTINUE, make_extension, tenant_admin
from tests.extension_helpers import SECRET as EXTENSION_SECRET
from tests.factories import build_world
from tests.unit.test_email_languages import SCENARIOS

SYSTEM_SECRET = "scim-bearer-token-nobody-may-read"
PASSWORD = "correct horse battery staple"
MARKER = "HOSTILE-VERSION"
EXTENSIONS = "custom_extensions.all"
# Every road a template could take from what an email names to a secret.
PATHS = [
    "recipient.password", "recipient.api_tokens.all.0.token_hash",
    "recipient.api_client.secret_hash", "recipient.system_accounts.all.0.system.secret",
    "recipient.system_accounts.all.0.system.secret_encrypted",
    "recipient.catalog_roles.all.0.catalog.custom_extensions.all.0.secret",
    "request.requestor.password", "request.target.password",
    "request.target.api_tokens.all.0.token_hash",
    "request.target.system_accounts.all.0.system.secret",
    f"request.access_package.catalog.{EXTENSIONS}.0.secret",
    f"request.access_package.catalog.{EXTENSIONS}.0.secret_encrypted",
    f"request.policy.access_package.catalog.{EXTENSIONS}.0.secret",
    "stage.decision.approver.password", "stage.approvers.all.0.password",
    "stage.request.requestor.password", "stage.request.target.api_tokens.all.0.token_hash",
    "assignment.target.password", "assignment.target.api_tokens.all.0.token_hash",
    f"assignment.access_package.catalog.{EXTENSIONS}.0.secret",
    "assignment.target.system_accounts.all.0.system.secret",
    "user.password", "user.api_tokens.all.0.token_hash",
    f"review.access_package.catalog.{EXTENSIONS}.0.secret",
    f"review.policy.access_package.catalog.{EXTENSIONS}.0.secret_encrypted",
    "review.decisions.all.0.principal.password", "review.reviewers.all.0.user.password",
    "settings.SECRET_KEY", "settings.SECRETS_KEY", "SECRET_KEY", "view.request.user.password",
]
LOOPS = (
    "{% for token in recipient.api_tokens.all %}{{ token.token_hash }}{% endfor %}"
    "{% for row in request.access_package.catalog.custom_extensions.all %}{{ row.secret }}"
    "{{ row.secret_encrypted }}{% endfor %}"
    "{% for row in assignment.access_package.catalog.custom_extensions.all %}{{ row.secret }}"
    "{% endfor %}"
    "{% for name, value in request.items %}{{ name }}={{ value }};{% endfor %}"
    "{% for name, value in recipient.items %}{{ name }}={{ value }};{% endfor %}"
    "{{ request|pprint }}{{ recipient|pprint }}{{ stage|pprint }}{{ review|pprint }}"
    "{% with person=recipient %}{{ person.password }}{% endwith %}"
)
HOSTILE = MARKER + " " + " ".join(f"[{{{{ {path} }}}}]" for path in PATHS) + LOOPS


@cache
def real_password_hash() -> str:
    # The portal's own hasher (PBKDF2), as a person's stored password is; once, it is slow.
    return make_password(PASSWORD, hasher="pbkdf2_sha256")


@pytest.fixture
def world(db, settings):
    real_password_hash()  # before the fast hasher below takes over
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher",
                                 "django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    return build_world()


def _secrets_everywhere(world) -> list[str]:
    """Put a secret behind every road of PATHS; the values no email may show."""
    admin = tenant_admin()
    make_extension(world, "http://127.0.0.1:9/compliance", behavior=CONTINUE)
    system = system_save(actor=admin, display_name="HR directory", kind="scim",
                         base_url="http://127.0.0.1:9/scim/v2", secret_value=SYSTEM_SECRET)
    _, client_token = api_client_create(actor=admin, display_name="Nightly export",
                                        permissions=["EntitlementManagement.Read.All"])
    User.objects.update(password=real_password_hash())
    raw_tokens = []
    for user in User.objects.filter(is_active=True).exclude(user_type="service"):
        raw_tokens.append(personal_token_create(user=user, name="Laptop")[1])
        SystemAccount.objects.get_or_create(system=system, user=user,
                                            defaults={"external_id": f"hr-{user.pk}"})
    values = [real_password_hash(), EXTENSION_SECRET, SYSTEM_SECRET, client_token,
              *raw_tokens, settings.SECRET_KEY, *(getattr(settings, "SECRETS_KEY", []) or [])]
    values += PersonalToken.objects.values_list("token_hash", flat=True)
    values += ApiClient.objects.values_list("secret_hash", flat=True)
    values += CustomExtension.objects.values_list("secret_encrypted", flat=True)
    values += TargetSystem.objects.values_list("secret_encrypted", flat=True)
    # The parts of a hash after its algorithm and iterations: the salt, the digest.
    values += real_password_hash().split("$")[2:]
    values = [value for value in values if value]
    assert CustomExtension.objects.get().secret() == EXTENSION_SECRET
    assert TargetSystem.objects.get().secret() == SYSTEM_SECRET
    return values


def _assert_nothing_secret(values: list[str], *parts: str) -> None:
    for part in parts:
        for value in values:
            assert value not in part, f"a secret ({value[:12]}…) is in the email: {part[:300]}"
        assert "<module " not in part and "sys.modules" not in part


def _message(world, topic: str) -> OutboxMessage:
    assert topic in SCENARIOS, f"add a scenario for the new topic {topic!r}"
    SCENARIOS[topic](world)
    message = OutboxMessage.objects.filter(topic=topic).order_by("id").first()
    assert message is not None and message.recipient is not None
    return message


def _send(message: OutboxMessage, smtp_server):
    before = smtp_server.count()
    due = max(message.next_attempt_at, clock.now()) + timedelta(seconds=1)
    with time_machine.travel(due, tick=False):
        assert outbox_send_due(message_id=message.pk) == 1
    message.refresh_from_db()
    assert message.state == "sent", message.last_error
    [received] = smtp_server.since(before)
    return received


def _version(topic: str) -> dict:
    return {"topic": topic, "language": "", "subject": MARKER + " {{ recipient.password }}",
            "text_body": HOSTILE, "html_body": f"<p>{HOSTILE}</p>"}


@pytest.mark.parametrize("topic", sorted(TOPICS))
def test_a_hostile_version_shows_no_secret_in_any_topic(world, smtp_server, topic):
    message = _message(world, topic)
    values = _secrets_everywhere(world)
    version = _version(topic)

    email_template_save(actor=tenant_admin(), **version)
    received = _send(message, smtp_server)
    rendered = render_email(topic, message.payload, message.recipient)
    for email in (received, rendered):
        assert email.subject.startswith(MARKER)  # the hostile version, not the standard one
        assert MARKER in email.text and MARKER in email.html
        _assert_nothing_secret(values, email.subject, email.text, email.html)
    # What the email documents is still there beside it: the recipient's own address.
    assert f"email={message.recipient.email};" in rendered.text

    preview = email_preview(topic, "", version["subject"], HOSTILE, f"<p>{HOSTILE}</p>")
    assert preview.subject.startswith(MARKER)
    _assert_nothing_secret(values, preview.subject, preview.text, preview.html)


@pytest.mark.parametrize("topic", sorted(TOPICS))
def test_debug_is_refused_at_save_in_every_topic_and_part(world, topic):
    version = _version(topic)
    for part in ("subject", "text_body", "html_body"):
        with pytest.raises(InvalidInput) as refused:
            email_template_save(actor=tenant_admin(),
                                **(version | {part: "{% debug %}" + version[part]}))
        assert (refused.value.field, refused.value.code) == (part, "forbiddenTag")
        assert "{% debug %} cannot be used in emails" in refused.value.message
    assert not EmailTemplate.objects.exists()


@pytest.mark.parametrize("topic", sorted(TOPICS))
def test_an_old_version_with_debug_sends_the_standard_email(world, smtp_server, topic):
    """A version saved before `{% debug %}` was refused does not render; the standard
    email goes instead, without the context or the server's modules."""
    message = _message(world, topic)
    values = _secrets_everywhere(world)
    EmailTemplate.objects.create(topic=topic, language="", subject=MARKER,
                                 text_body=MARKER + "{% debug %}" + HOSTILE,
                                 html_body="<pre>{% debug %}</pre>", updated_at=clock.now())

    received = _send(message, smtp_server)

    assert MARKER not in received.subject and MARKER not in received.text
    assert received.subject.strip() and received.text.strip()
    _assert_nothing_secret(values, received.subject, received.text, received.html)
