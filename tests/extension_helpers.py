"""Setting up custom extensions in the tests, and answering their calls."""

from datetime import timedelta
from urllib.parse import urlsplit

from django.urls import reverse

from governance.choices import CustomExtensionBehavior
from governance.models import ExtensionCallout, TenantSettings
from governance.services.extension_config import extension_save, policy_extension_stages_set
from governance.services.outbound import outbound_allow_list_set
from tests.factories import UserFactory

SECRET = "s3cret-for-the-compliance-check"
WAIT = CustomExtensionBehavior.LAUNCH_AND_WAIT
CONTINUE = CustomExtensionBehavior.LAUNCH_AND_CONTINUE


def tenant_admin():
    """The global administrator who sets the tenant settings in these tests."""
    return UserFactory(email="tenant.admin@access.example", display_name="Tenant Admin",
                       is_superuser=True)


def allow_outbound(*entries: str) -> None:
    """A global administrator adds `entries` to the tenant's outbound allow-list."""
    listed = TenantSettings.current().outbound_allow_list
    outbound_allow_list_set(actor=tenant_admin(),
                            entries=[*listed, *(e for e in entries if e not in listed)])


def disallow_outbound(*entries: str) -> None:
    """A global administrator takes `entries` out of the allow-list."""
    listed = TenantSettings.current().outbound_allow_list
    outbound_allow_list_set(actor=tenant_admin(),
                            entries=[e for e in listed if e not in entries])


def make_extension(world, url: str, *, behavior=WAIT, timeout=timedelta(hours=1),
                   name="Compliance check"):
    """An extension of the world's catalog, saved by its owner, signing with SECRET. Its host
    is allow-listed first, as a global administrator would for a receiver on loopback."""
    allow_outbound(urlsplit(url).hostname)
    return extension_save(actor=world.owner, catalog_id=world.catalog.pk, display_name=name,
                          endpoint_url=url, behavior=behavior,
                          callback_timeout=timeout if behavior == WAIT else None,
                          secret_value=SECRET)


def call_at(world, policy, *stages_and_extensions) -> None:
    """Make the policy call each (stage, extension)."""
    policy_extension_stages_set(actor=world.owner, policy_id=policy.pk,
                                stages=[(stage, ext.pk) for stage, ext in stages_and_extensions])


def post_callback(client, callout: ExtensionCallout, body: dict):
    """POST `body` to the callback address the callout's call carried."""
    return client.post(callout.body["data"]["callbackUriPath"], body,
                       content_type="application/json")


def history_of(client, person) -> str:
    """Request history as `person` sees it."""
    client.force_login(person, backend="allauth.account.auth_backends.AuthenticationBackend")
    return client.get(reverse("request_history")).content.decode()
