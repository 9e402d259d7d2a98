"""scim2-tester's checks of RFC 7643/7644, over HTTP against the live server."""

import httpx2
import pytest
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import check_server
from scim2_tester.utils import Status

from governance.services.provisioning_clients import provisioning_client_create

PASSED = {Status.SUCCESS, Status.COMPLIANT, Status.ACCEPTABLE}
# The checks that do not apply, with the reason (the README's SCIM section lists them too).
NOT_APPLICABLE = {
    # A person is active or deactivated, never neither: a PATCH removing `active` leaves the
    # person as they were (Entra and Okta send active true or false, never a removal).
    ("check_remove_attribute", "'active'"),
}


def _not_applicable(result) -> bool:
    return any(result.title == title and words in (result.reason or "")
               for title, words in NOT_APPLICABLE)


@pytest.fixture
def scim_client(live_server, transactional_db):
    _client, token = provisioning_client_create(actor=None, display_name="Tester", system=True)
    http = httpx2.Client(base_url=f"{live_server.url}/scim/v2",
                         headers={"Authorization": f"Bearer {token}"}, trust_env=False)
    yield SyncSCIMClient(http)
    http.close()


def test_every_rfc_check_of_scim2_tester_passes(scim_client):
    results = check_server(scim_client)
    failed = [(r.status.name, r.title, r.reason) for r in results if r.status not in PASSED
              and not _not_applicable(r)]
    assert len(results) >= 130, len(results)
    print(f"scim2-tester: {len(results)} checks, "
          f"{sum(r.status in PASSED for r in results)} passed, "
          f"{sum(r.status == Status.SKIPPED for r in results)} skipped")
    assert not failed, "\n".join(map(str, failed))
