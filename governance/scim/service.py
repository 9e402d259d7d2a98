"""What the SCIM endpoint announces (ServiceProviderConfig, ResourceTypes, Schemas) and the
protocol application that serves a request for one provisioning client."""

from scim2_models import (
    AuthenticationScheme,
    Bulk,
    ChangePassword,
    Context,
    EnterpriseUser,
    ETag,
    External,
    Filter,
    Patch,
    Reference,
    ResourceType,
    ScimProvider,
    ServiceProviderConfig,
    Sort,
    UnauthorizedException,
)
from scim2_models import Group as ScimGroup
from scim2_models import User as ScimUser
from scim2_server.applications.base import BaseApplication
from scim2_server.handler import ScimHandler
from scim2_server.requests import ScimRequest
from scim2_server.responses import ScimResponse
from scim2_server.service import ScimService

from governance.models import ProvisioningClient
from governance.scim.dialects import normalised_patch, normalised_resource
from governance.scim.storage import PortalStorage
from governance.services.provisioning_clients import provisioning_client_authenticate

MAX_RESULTS = 200

CONFIG = ServiceProviderConfig(
    documentation_uri=Reference[External]("https://github.com/access-portal/#scim-provisioning"),
    patch=Patch(supported=True),
    bulk=Bulk(supported=False, max_operations=0, max_payload_size=0),
    filter=Filter(supported=True, max_results=MAX_RESULTS),
    change_password=ChangePassword(supported=False),
    sort=Sort(supported=False),
    etag=ETag(supported=True),
    authentication_schemes=[AuthenticationScheme(
        type=AuthenticationScheme.Type.oauthbearertoken, name="Bearer token",
        description="The token of a provisioning client (manage.py create_scim_client).",
        primary=True)],
)
PROVIDER = ScimProvider(
    models=[ScimUser, EnterpriseUser, ScimGroup],
    resource_types=[ResourceType.from_resource(ScimUser[EnterpriseUser]),
                    ResourceType.from_resource(ScimGroup)],
    config=CONFIG,
)


class PortalScimService(ScimService):
    def read_patch(self, resource_type, body, content_type):
        return super().read_patch(resource_type, normalised_patch(body), content_type)

    def read_creation(self, resource_type, body, content_type):
        return super().read_creation(resource_type, normalised_resource(body), content_type)

    def read_replacement(self, resource_type, body, content_type):
        return super().read_replacement(resource_type, normalised_resource(body), content_type)

    def patch_response(self, base_url, resource, response_parameters):
        """200 with the resource, as Entra's and Okta's documentation show it, rather than the
        204 RFC 7644 also allows (some clients then read the user again; none need to)."""
        return self.resource_response(self.publish(base_url, resource),
                                      Context.RESOURCE_REPLACEMENT_RESPONSE, response_parameters)


class PortalScimApplication(BaseApplication):
    """scim2-server's protocol steps, authenticated by a provisioning client's token, over
    the directory as that client may change it."""

    def client_of(self, request: ScimRequest) -> ProvisioningClient:
        scheme, _, token = (request.header("Authorization") or "").partition(" ")
        client = provisioning_client_authenticate(token.strip()) \
            if scheme.lower() == "bearer" else None
        if client is None:
            raise UnauthorizedException(detail="Send the token of a provisioning client as "
                                               "'Authorization: Bearer scim_...'.")
        return client

    def serve(self, request: ScimRequest) -> ScimResponse:
        try:
            if self.needs_auth(request):
                client = self.client_of(request)
                request.subject = client
                handler = ScimHandler(self.service, PortalStorage(client))
            else:
                handler = ScimHandler(self.service, _NO_STORAGE)
            response = handler.handle(request)
        except Exception as exception:
            # SCIM errors (4xx) are logged as such; anything else is a bug, logged with its
            # traceback and answered 500 in SCIM's shape (the fuzz tests look for any).
            response = self.handle_exception(request, exception)
        return self.finalize_response(request, response)


class _DiscoveryOnly(PortalStorage):
    """For ServiceProviderConfig, which needs no token (RFC 7644 §4) and reads no resource:
    a storage with no client, which the handler never calls."""

    def __init__(self):
        self.client = self.actor = None


_NO_STORAGE = _DiscoveryOnly()
APPLICATION = PortalScimApplication(PROVIDER, PortalScimService(PROVIDER))
