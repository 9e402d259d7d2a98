"""OData query options against real querysets: $filter, $select, $expand, $orderby,
$top/$skip/$skiptoken paging with @odata.nextLink, and $count."""

import datetime
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import RequestFactory

from governance.api.odata import (
    ODataError,
    boolean,
    enum,
    ident,
    instant,
    page,
    parse_expand,
    parse_filter,
    parse_options,
    parse_orderby,
    parse_select,
    text,
)
from governance.models import Catalog
from tests.factories import CatalogFactory

FIELDS = {
    "id": ident("pk"),
    "displayName": text("display_name"),
    "description": text("description", sortable=False),
    "state": enum("state", ["published", "unpublished"]),
    "isExternallyVisible": boolean("is_externally_visible"),
    "createdDateTime": instant("created_at"),
}
CONTEXT = "https://portal.test/v1.0/$metadata#identityGovernance/entitlementManagement/catalogs"


@pytest.fixture
def catalogs(db):
    return {
        "sales": CatalogFactory(display_name="Sales", description="O'Brien's team"),
        "sales_eu": CatalogFactory(display_name="Sales EU", is_externally_visible=False),
        "finance": CatalogFactory(display_name="Finance", state="unpublished"),
    }


def names(expression):
    return sorted(Catalog.objects.filter(parse_filter(expression, FIELDS))
                  .values_list("display_name", flat=True))


def refusal(action, *words):
    with pytest.raises(ODataError) as caught:
        action()
    assert caught.value.code == "BadRequest" and caught.value.status == 400
    for word in words:
        assert word in caught.value.message, caught.value.message
    return caught.value.message


def test_eq_ne_and_or_not_and_parentheses(catalogs):
    assert names("displayName eq 'sales'") == ["Sales"]  # case-insensitive, as Entra's
    assert names("displayName ne 'Sales'") == ["Finance", "Sales EU"]
    assert names("state eq 'published' and isExternallyVisible eq true") == ["Sales"]
    assert names("displayName eq 'Finance' or isExternallyVisible eq false") == [
        "Finance", "Sales EU"]
    assert names("not (state eq 'published')") == ["Finance"]
    assert names("(displayName eq 'Sales' or displayName eq 'Finance') and state ne "
                 "'unpublished'") == ["Sales"]


def test_startswith_quotes_null_ids_and_datetimes(catalogs):
    assert names("startswith(displayName,'sal')") == ["Sales", "Sales EU"]
    assert names("description eq 'O''Brien''s team'") == ["Sales"]
    assert names("description eq null") == []
    assert names("description ne null") == ["Finance", "Sales", "Sales EU"]
    finance = catalogs["finance"].pk
    assert names(f"id eq '{finance}'") == names(f"id eq {finance}") == ["Finance"]
    Catalog.objects.filter(pk=finance).update(
        created_at=datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC))
    assert names("createdDateTime eq 2020-01-01T00:00:00Z") == ["Finance"]


@pytest.mark.parametrize("expression, words", [
    ("colour eq 'red'", ["unknown property 'colour'", "character 1", "displayName"]),
    ("displayName gt 'a'", ["unsupported operator 'gt'", "character 13"]),
    ("endswith(displayName,'s')", ["unsupported function 'endswith'", "character 1"]),
    ("displayName eq 'open", ["unterminated string", "character 16"]),
    ("displayName eq Sales", ["'Sales'", "not a valid value for displayName"]),
    ("isExternallyVisible eq 'yes'", ["true or false"]),
    ("state eq 'archived'", ["'archived'", "published, unpublished"]),
    ("id eq 'abc'", ["an id"]),
    ("createdDateTime eq 2020-01-01T00:00:00", ["ISO 8601"]),
    ("startswith(isExternallyVisible,'t')", ["not one"]),
    ("displayName eq 'a' and", ["a property name", "end of the expression"]),
    ("(displayName eq 'a'", ["expected ')'"]),
    ("displayName eq 'a' 'b'", ["unexpected ''b''", "character 20"]),
    ("displayName eq 'a' & x", ["unexpected character '&'", "character 20"]),
    ("", ["empty"]),
])
def test_unsupported_filters_are_refused_naming_the_problem(expression, words):
    message = refusal(lambda: parse_filter(expression, FIELDS), *words)
    assert message.startswith("Invalid filter clause:")


def test_select_expand_and_orderby_are_checked():
    assert parse_select("id,displayName", FIELDS) == ["id", "displayName"]
    assert parse_select(None, FIELDS) is None
    refusal(lambda: parse_select("id,colour", FIELDS), "$select", "'colour'")
    refusal(lambda: parse_select("id,,state", FIELDS), "empty name")
    assert parse_expand("accessPackages", {"accessPackages"}) == ["accessPackages"]
    refusal(lambda: parse_expand("owners", {"accessPackages"}), "'owners' cannot be expanded")
    refusal(lambda: parse_expand("accessPackages($filter=x)", {"accessPackages"}), "one level")
    refusal(lambda: parse_expand("catalog/accessPackages", {"catalog"}), "one level")
    # One nested $expand, as Graph's tutorials write it, reads as the outer property.
    assert parse_expand("resourceRoleScopes($expand=role,scope),catalog",
                        {"resourceRoleScopes", "catalog"}) == ["resourceRoleScopes", "catalog"]
    assert parse_orderby("displayName desc,createdDateTime", FIELDS) == [
        "-display_name", "created_at"]
    refusal(lambda: parse_orderby("description", FIELDS), "cannot sort by 'description'")
    refusal(lambda: parse_orderby("displayName sideways", FIELDS), "asc or desc")


@pytest.mark.parametrize("params, words", [
    ({"$top": "0"}, ["$top", "between 1 and 999"]),
    ({"$top": "1000"}, ["between 1 and 999"]),
    ({"$top": "ten"}, ["not a whole number"]),
    ({"$skip": "-1"}, ["$skip"]),
    ({"$skiptoken": "x"}, ["$skiptoken"]),
    ({"$count": "yes"}, ["true or false"]),
    ({"$search": "x"}, ["'$search' is not supported"]),
])
def test_paging_options_are_checked(params, words):
    refusal(lambda: parse_options(params, FIELDS), *words)


def test_defaults():
    options = parse_options({}, FIELDS)
    assert (options.top, options.skip, options.count, options.filter) == (100, 0, False, None)


def serialize(catalog, *, expand):
    item = {"id": str(catalog.pk), "displayName": catalog.display_name,
            "state": catalog.state}
    if "accessPackages" in expand:
        item["accessPackages"] = []
    return item


def get_page(query, **kw):
    request = RequestFactory().get("/v1.0/identityGovernance/entitlementManagement/catalogs",
                                   query)
    return page(request, Catalog.objects.all(), FIELDS, context_url=CONTEXT,
                serialize=serialize, expandable={"accessPackages"}, **kw)


def test_page_follows_next_links_to_the_end(catalogs):
    first = get_page({"$top": "2", "$orderby": "displayName desc", "$count": "true"})
    assert first["@odata.context"] == CONTEXT
    assert first["@odata.count"] == 3
    assert [c["displayName"] for c in first["value"]] == ["Sales EU", "Sales"]
    link = urlsplit(first["@odata.nextLink"])
    assert link.netloc == "testserver" and link.path.endswith("/catalogs")
    query = {k: v[0] for k, v in parse_qs(link.query).items()}
    assert query == {"$top": "2", "$orderby": "displayName desc", "$count": "true",
                     "$skiptoken": "2"}
    second = get_page(query)
    assert [c["displayName"] for c in second["value"]] == ["Finance"]
    assert "@odata.nextLink" not in second and second["@odata.count"] == 3


def test_page_filters_selects_expands_and_skips(catalogs):
    body = get_page({"$filter": "startswith(displayName,'Sales')", "$select": "displayName",
                     "$expand": "accessPackages"})
    assert body["@odata.context"] == CONTEXT + "(displayName)"
    assert "@odata.count" not in body and "@odata.nextLink" not in body
    assert body["value"] == [{"id": str(catalogs["sales"].pk), "displayName": "Sales"},
                             {"id": str(catalogs["sales_eu"].pk), "displayName": "Sales EU"}]
    skipped = get_page({"$skip": "1", "$top": "1"})
    assert [c["displayName"] for c in skipped["value"]] == ["Sales"]
    assert "$skiptoken=2" in skipped["@odata.nextLink"]
    assert "$skip=" not in skipped["@odata.nextLink"]


def test_page_default_size(catalogs):
    assert len(get_page({}, default_top=2)["value"]) == 2
    assert len(get_page({})["value"]) == 3


def test_page_refuses_a_bad_filter_before_touching_the_database(db, django_assert_num_queries):
    with django_assert_num_queries(0):
        refusal(lambda: get_page({"$filter": "colour eq 'red'"}), "colour")
