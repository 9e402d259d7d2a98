"""Setting up custom extensions in the tests, and answering their calls."""

from datetime import timedelta

from django.urls import reverse

from governance.choices import CustomExtensionBehavior
from governance.models import ExtensionCallout
from governance.services.extension_config import extension_save, policy_extension_stages_set

SECRET = "s3cret-for-the-compliance-check"
WAIT = CustomExtensionBehavior.LAUNCH_AND_WAIT
CONTINUE = CustomExtensionBehavior.LAUNCH_AND_CONTINUE


def make_extension(world, url: str, *, behavior=WAIT, timeout=timedelta(hours=1),
                   name="Compliance check"):
    """An extension of the world's catalog, saved by its owner, signing with SECRET."""
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
