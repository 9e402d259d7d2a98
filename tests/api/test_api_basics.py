"""What every endpoint shares: tokens, Graph error bodies, unknown paths."""

from tests.api.conftest import assert_graph_error, graph_client


def test_unknown_path_under_v1_is_a_graph_404(db):
    response = graph_client().get("/v1.0/identityGovernance/nowhere")
    assert_graph_error(response, 404, "nowhere")


def test_bad_token_is_401_with_www_authenticate(db):
    response = graph_client("pac_00000000.nope").get(
        "/v1.0/identityGovernance/entitlementManagement/catalogs")
    assert_graph_error(response, 401, "token")
    assert response["WWW-Authenticate"] == "Bearer"


def test_nul_characters_are_refused_in_bodies_and_query_options(world, callers):
    catalogs = "/v1.0/identityGovernance/entitlementManagement/catalogs"
    response = callers.writer.post(catalogs, {"displayName": "A\x00B"}, format="json")
    assert_graph_error(response, 400, "displayName", "NUL")
    response = callers.writer.post(catalogs, {"displayName": "Ok", "description": ["\x00"]},
                                   format="json")
    assert_graph_error(response, 400)
    response = callers.reader.get(catalogs, {"$filter": "displayName eq 'A\x00'"})
    assert_graph_error(response, 400, "$filter", "NUL")
