"""Bearer tokens: API clients and people's own tokens, the commands, and DRF's view of them."""

from datetime import timedelta
from io import StringIO
from unittest import mock

import pytest
from django.core.management import call_command
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from governance import clock
from governance.api.authentication import BearerTokenAuthentication
from governance.api.permissions import HasGraphPermission
from governance.choices import ApiPermission
from governance.models import ApiClient, AuditEvent, PersonalToken
from governance.selectors.directory import sign_in_refusal_reason
from governance.selectors.permissions import is_global_admin
from governance.services.api_tokens import (
    api_client_create,
    api_client_revoke,
    personal_token_create,
    personal_token_revoke,
    token_authenticate,
)
from governance.services.errors import Duplicate, InvalidInput, NotAllowed, NotFound
from tests.factories import UserFactory

READ = ApiPermission.READ_ALL.value
WRITE = ApiPermission.READ_WRITE_ALL.value


@pytest.fixture
def admin(db):
    return UserFactory(email="global.admin@access.example", is_superuser=True)


@pytest.fixture
def person(db):
    return UserFactory(email="script.writer@access.example")


def test_client_token_authenticates_with_its_permissions(admin):
    client, token = api_client_create(actor=admin, display_name="Terraform", permissions=[READ])
    assert token.startswith(f"pac_{client.secret_prefix}.")
    principal, scopes = token_authenticate(token)
    assert principal.api_client == client and scopes == {READ}
    # The client acts as a service principal that can never sign in.
    assert principal.user_type == "service" and not principal.has_usable_password()
    event = AuditEvent.objects.get(action="apiClient.created")
    assert event.actor == admin and token.split(".", 1)[1] not in str(event.after)


def test_token_is_never_stored_in_plain_text(admin, person):
    client, client_token = api_client_create(actor=admin, display_name="CI", permissions=[WRITE])
    personal, person_token = personal_token_create(user=person, name="laptop")
    for token, hashed in ((client_token, client.secret_hash), (person_token, personal.token_hash)):
        secret = token.split(".", 1)[1]
        assert secret not in hashed and len(client.secret_prefix) == 8
        for row in (ApiClient.objects.values().get(), PersonalToken.objects.values().get()):
            assert not any(secret in str(value) for value in row.values())
        assert not AuditEvent.objects.filter(after__icontains=secret).exists()


def test_wrong_secret_malformed_and_unknown_tokens_are_refused(admin, person):
    _client, token = api_client_create(actor=admin, display_name="CI", permissions=[WRITE])
    _personal, person_token = personal_token_create(user=person, name="laptop")
    for bad in (token[:-2] + "xx", person_token[:-2] + "xx", "", "pac_", "nonsense",
                token.replace("pac_", "pat_"), "pac_00000000.secret", token + "x"):
        assert token_authenticate(bad) is None, bad


def test_revoked_and_inactive_clients_are_refused(admin):
    client, token = api_client_create(actor=admin, display_name="CI", permissions=[WRITE])
    api_client_revoke(actor=admin, client_id=client.pk)
    assert token_authenticate(token) is None
    assert AuditEvent.objects.filter(action="apiClient.revoked", actor=admin).count() == 1
    # Its principal is no longer an administrator of anything.
    client.principal.refresh_from_db()
    assert not client.principal.is_active and not is_global_admin(client.principal)


def test_a_client_principal_cannot_sign_in(admin):
    client, _token = api_client_create(actor=admin, display_name="CI", permissions=[READ])
    assert "API client" in sign_in_refusal_reason(client.principal)


def test_personal_token_is_delegated_and_read_write(person):
    _personal, token = personal_token_create(user=person, name="laptop")
    assert token.startswith("pat_")
    principal, scopes = token_authenticate(token)
    assert principal == person and scopes == {WRITE}


def test_revoked_expired_and_disabled_personal_tokens_are_refused(person):
    personal, token = personal_token_create(user=person, name="laptop",
                                            expires_at=clock.now() + timedelta(days=1))
    with mock.patch.object(clock, "now", return_value=clock.now() + timedelta(days=2)):
        assert token_authenticate(token) is None
    assert token_authenticate(token) is not None
    person.is_active = False
    person.save(update_fields=["is_active"])
    assert token_authenticate(token) is None
    person.is_active = True
    person.save(update_fields=["is_active"])
    personal_token_revoke(user=person, token_id=personal.pk)
    assert token_authenticate(token) is None


def test_only_the_owner_revokes_a_personal_token(person, assert_refused):
    personal, _token = personal_token_create(user=person, name="laptop")
    other = UserFactory(email="outsider@access.example")
    assert_refused(lambda: personal_token_revoke(user=other, token_id=personal.pk),
                   NotFound, "tokenNotFound", "not yours")


def test_last_used_at_is_written_at_most_once_a_minute(admin):
    client, token = api_client_create(actor=admin, display_name="CI", permissions=[WRITE])
    start = clock.now()
    with mock.patch.object(clock, "now", return_value=start):
        token_authenticate(token)
    client.refresh_from_db()
    assert client.last_used_at == start
    with mock.patch.object(clock, "now", return_value=start + timedelta(seconds=30)):
        token_authenticate(token)
    client.refresh_from_db()
    assert client.last_used_at == start
    later = start + timedelta(minutes=2)
    with mock.patch.object(clock, "now", return_value=later):
        token_authenticate(token)
    client.refresh_from_db()
    assert client.last_used_at == later


def test_refusals(admin, person, assert_refused):
    assert_refused(lambda: api_client_create(actor=person, display_name="Mine",
                                             permissions=[READ]),
                   NotAllowed, "notAllowed", "global administrators")
    assert_refused(lambda: api_client_create(actor=None, display_name="Mine",
                                             permissions=[READ]),
                   NotAllowed, "notAllowed", "global administrators")
    assert_refused(lambda: api_client_create(actor=admin, display_name="Mine", permissions=[]),
                   InvalidInput, "invalidInput", "permission")
    assert_refused(lambda: api_client_create(actor=admin, display_name="Mine",
                                             permissions=["Directory.ReadWrite.All"]),
                   InvalidInput, "invalidInput", "Directory.ReadWrite.All")
    client, _token = api_client_create(actor=admin, display_name="Mine", permissions=[READ])
    assert_refused(lambda: api_client_create(actor=admin, display_name="mine",
                                             permissions=[READ]),
                   Duplicate, "duplicateName", "already exists")
    assert_refused(lambda: api_client_revoke(actor=person, client_id=client.pk),
                   NotAllowed, "notAllowed", "global administrators")
    assert_refused(lambda: personal_token_create(user=person, name="old",
                                                 expires_at=clock.now() - timedelta(days=1)),
                   InvalidInput, "invalidInput", "future")


def test_commands_print_tokens_that_authenticate(person):
    out = StringIO()
    call_command("create_api_client", "Deploy bot", "--permission", WRITE, stdout=out)
    client, scopes = token_authenticate(out.getvalue().strip())
    assert client.display_name == "Deploy bot" and scopes == {WRITE}
    event = AuditEvent.objects.get(action="apiClient.created")
    assert event.actor is None and event.actor_label == "system"
    out = StringIO()
    call_command("create_user_token", person.email.upper(), "--name", "cron", stdout=out)
    principal, _scopes = token_authenticate(out.getvalue().strip())
    assert principal == person and person.api_tokens.get().name == "cron"


class ThrowawayView(APIView):
    authentication_classes = [BearerTokenAuthentication]
    permission_classes = [HasGraphPermission]

    def get(self, request):
        return Response({"who": str(request.user)})

    def post(self, request):
        return Response({"who": str(request.user)}, status=201)


def _call(method: str, token: str | None = None):
    factory = APIRequestFactory()
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token is not None else {}
    request = getattr(factory, method)("/throwaway", **headers)
    return ThrowawayView.as_view()(request)


def test_drf_refuses_missing_and_bad_tokens_with_401(admin):
    for response in (_call("get"), _call("get", "pac_00000000.nope"), _call("get", "")):
        assert response.status_code == 401
        assert response["WWW-Authenticate"] == "Bearer"


def test_drf_read_token_reads_but_does_not_write(admin, person):
    _client, read_token = api_client_create(actor=admin, display_name="Reader",
                                            permissions=[READ])
    _client, write_token = api_client_create(actor=admin, display_name="Writer",
                                             permissions=[WRITE])
    _personal, person_token = personal_token_create(user=person, name="laptop")
    assert _call("get", read_token).status_code == 200
    refused = _call("post", read_token)
    assert refused.status_code == 403 and WRITE in refused.data["error"]["message"]
    assert _call("get", write_token).data["who"] == "Writer"
    assert _call("post", write_token).status_code == 201
    assert _call("post", person_token).data["who"] == str(person)
