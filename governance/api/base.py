"""What every Graph endpoint shares: authentication, the read/write permission, JSON bodies,
collections with the OData query options, single entities, ids in paths, and 404s.

A resource module declares a ``GraphType`` per entity type (its filterable fields, its JSON and
what it can expand) and views built on ``GraphView``::

    class CatalogList(GraphView):
        def get(self, request):
            return self.collection(catalogs_visible_to(request.user), CATALOG, "catalogs")

Views call services for every change and selectors for every read; this module only speaks
HTTP and JSON.
"""

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from django.db.models import Model, QuerySet
from rest_framework.response import Response
from rest_framework.views import APIView

from . import odata
from .authentication import BearerTokenAuthentication
from .errors import GraphError
from .graph_json import load_body, reject_unknown
from .permissions import HasGraphPermission

API_ROOT = "/v1.0"
EM = "identityGovernance/entitlementManagement"


class ResourceNotFound(GraphError):
    status = 404
    code = "ResourceNotFound"


@dataclass(frozen=True)
class GraphType:
    """One Graph entity type as the API reads it.

    ``to_json(obj, expand)`` gives the entity's JSON (camelCase, ``id`` as a string), with the
    navigation properties named in ``expand`` included. ``fields`` are what ``$filter``,
    ``$select`` and ``$orderby`` may name. ``prefetch(queryset, expand)`` adds the joins a page
    needs, so that a page costs the same number of queries whatever its size.
    """

    name: str
    fields: Mapping[str, odata.Field]
    to_json: Callable[..., dict]
    expandable: tuple[str, ...] = ()
    prefetch: Callable[[QuerySet, list[str]], QuerySet] = field(
        default=lambda queryset, expand: queryset)


def context_url(request, path: str) -> str:
    """Graph's ``@odata.context``, e.g. ``…/v1.0/$metadata#identityGovernance/…/catalogs``."""
    return request.build_absolute_uri(f"{API_ROOT}/$metadata#{path}")


def object_id(raw, what: str) -> int:
    """The integer id in a path or body; anything else names nothing (404)."""
    text = str(raw).strip()
    if not text.isdigit() or len(text) > 18:
        raise ResourceNotFound(f"No {what} has the id '{raw}'.")
    return int(text)


def get_or_404(queryset: QuerySet, raw_id, what: str) -> Model:
    """The row of `queryset` (already limited to what the caller may see) with this id."""
    found = queryset.filter(pk=object_id(raw_id, what)).first()
    if found is None:
        raise ResourceNotFound(f"No {what} has the id '{raw_id}', or you may not see it.")
    return found


def referenced_id(body: dict, collections: str, what: str, *, name: str = "@odata.id") -> str:
    """The id at the end of ``{"@odata.id": "https://host/v1.0/…/<collection>/<id>"}``, the
    body of a POST …/$ref (or a DELETE's ``$id``/``@id``, given as that body). `collections`
    is the regex of the collection's name ("accessPackages", "users|directoryObjects");
    `name` is what the caller wrote the URL in, for the refusals."""
    reject_unknown(body, ("@odata.id",), "reference")
    reference = body.get("@odata.id")
    if not isinstance(reference, str) or not reference.strip():
        raise GraphError(f"{name}: give the URL of the {what}, e.g. "
                         f"https://graph.microsoft.com/v1.0/…/{collections.split('|')[0]}/{{id}}.")
    match = re.search(rf"/(?:{collections})/(?P<id>[^/?#]+)/?$", reference.strip())
    if match is None:
        raise GraphError(f"{name}: '{reference}' is not the URL of a {what}.")
    return match.group("id")


def reference_id(value, field_name: str, what: str) -> int:
    """The id of ``{"id": "12"}`` (a navigation property given by reference) or of "12"."""
    raw = value.get("id") if isinstance(value, dict) else value
    if raw in (None, ""):
        raise GraphError(f"{field_name}: give the id of the {what}.")
    text = str(raw).strip()
    if not text.isdigit() or len(text) > 18:
        raise GraphError(f"{field_name}: '{raw}' is not the id of any {what}.")
    return int(text)


class GraphView(APIView):
    """Base of every endpoint. Subclasses set, for the OpenAPI document (governance.api.schema):

    - ``graph_type``: the GraphType the view answers with (None for 204-only actions);
    - ``body_properties``: the properties its POST/PATCH/PUT body accepts (empty: no body);
    - ``is_collection``: True when GET answers a collection (with the OData query options);
    - ``is_action``: POST is a Graph action that answers 200 with ``graph_type`` (a collection
      when ``is_collection``) rather than creating something.
    """

    authentication_classes = [BearerTokenAuthentication]
    permission_classes = [HasGraphPermission]
    graph_type: GraphType | None = None
    body_properties: tuple[str, ...] = ()
    is_collection = False
    is_action = False

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        # PostgreSQL text holds no NUL; a query option with one would fail in the database.
        for key, value in request.query_params.items():
            if "\x00" in key or "\x00" in value:
                raise odata.ODataError(f"The query option '{key.replace(chr(0), '')}' contains "
                                       "the NUL character (%00).")

    def body(self) -> dict:
        """The request's JSON object; malformed JSON is a 400 naming the problem."""
        return load_body(self.request.body)

    def collection(self, queryset: QuerySet, graph_type: GraphType, path: str, *,
                   default_top: int = odata.DEFAULT_TOP) -> Response:
        """One page of a collection, with $filter, $select, $expand, $orderby, $top, $count
        and @odata.nextLink. `path` is the collection's path under /v1.0 for the context."""
        params = self.request.query_params
        expand = odata.parse_expand(params.get("$expand"), graph_type.expandable)
        body = odata.page(self.request, graph_type.prefetch(queryset, expand), graph_type.fields,
                          context_url=context_url(self.request, path),
                          serialize=graph_type.to_json, expandable=graph_type.expandable,
                          default_top=default_top)
        return Response(body)

    def entity(self, obj: Model, graph_type: GraphType, path: str, *,
               status: int = 200) -> Response:
        """One entity, with $select and $expand. `path` is its collection's path."""
        params = self.request.query_params
        for key in params:
            if key.startswith("$") and key not in ("$select", "$expand"):
                raise odata.ODataError(f"The query option '{key}' applies to collections only.")
        select = odata.parse_select(params.get("$select"), graph_type.fields)
        expand = odata.parse_expand(params.get("$expand"), graph_type.expandable)
        item = graph_type.to_json(obj, expand=expand)
        if select:
            item = {k: v for k, v in item.items() if k in select or k == "id"}
        context = context_url(self.request, f"{path}/$entity")
        return Response({"@odata.context": context, **item}, status=status)

    def reload(self, queryset: QuerySet, obj: Model, graph_type: GraphType) -> Model:
        """`obj` read again with what its JSON needs (after a service changed it)."""
        return graph_type.prefetch(queryset, list(graph_type.expandable)).get(pk=obj.pk)

    @staticmethod
    def no_content() -> Response:
        return Response(status=204)


def ids_of(values: Iterable, field_name: str, what: str) -> list[int]:
    """Ids of a list of references (``[{"id": "3"}, …]`` or ``["3", …]``)."""
    if not isinstance(values, list):
        raise GraphError(f"{field_name}: a list of {what} references was expected.")
    return [reference_id(value, field_name, what) for value in values]
