"""The demo's mailbox: DEBUG only; lists what was sent, with links that work."""

import re

import pytest
from django.core import mail
from django.urls import reverse

from governance.models import OutboxMessage
from governance.services.outbox import outbox_send_due
from tests.factories import submit_request


@pytest.fixture
def sent(world, settings, tmp_path):
    """The approver's email about a new request (outbox), and a sign-in email (a file)."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = tmp_path
    submit_request(world)
    mail.send_mail("Your sign-in code", "Your code:\n\nABCD-EFGH\n", None,
                   [world.requester.email])
    assert outbox_send_due() == 1


def test_without_debug_the_mailbox_does_not_exist(client, settings, sent):
    settings.DEBUG = False
    assert client.get(reverse("mailbox")).status_code == 404
    assert client.get(reverse("mailbox_message", args=["o1"])).status_code == 404
    assert "Mailbox (demo)" not in client.get(reverse("account_login")).content.decode()


def test_the_demo_mailbox_lists_outbox_and_sign_in_emails(client, settings, sent, world):
    settings.DEBUG = True
    page = client.get(reverse("mailbox")).content.decode()
    assert "Approval needed: Falcon collaboration for Requester" in page
    assert "Your sign-in code" in page
    assert world.approver.email in page and world.requester.email in page
    assert "Mailbox (demo)" in client.get(reverse("account_login")).content.decode()


def test_an_approvers_email_in_the_mailbox_carries_their_working_link(client, settings, sent,
                                                                       world, as_user):
    settings.DEBUG = True
    key = f"o{OutboxMessage.objects.get(topic='approval_needed').pk}"
    assert f'href="/mailbox/{key}/"' in client.get(reverse("mailbox")).content.decode()
    page = client.get(reverse("mailbox_message", args=[key])).content.decode()
    assert "Review the request, then approve or deny it" in page
    link = re.search(r'href="(http://[^"]+/approvals/link/[^"]+)"', page).group(1)
    path = link.removeprefix(settings.SITE_URL)
    assert "Approve" in as_user(world.approver).get(path).content.decode()


def test_an_unknown_email_is_not_found(client, settings, sent):
    settings.DEBUG = True
    assert client.get(reverse("mailbox_message", args=["o999"])).status_code == 404
    assert client.get(reverse("mailbox_message", args=["fnothing.0"])).status_code == 404
