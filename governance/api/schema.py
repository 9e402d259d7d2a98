"""The OpenAPI document of the Graph endpoints, built from what every GraphView declares.

A GraphView says which entity type it answers with (``graph_type``), which properties its
body accepts (``body_properties``) and whether GET answers a collection (``is_collection``);
``GraphAutoSchema`` turns that into paths, parameters, request bodies and responses in
Microsoft Graph's shapes (components named ``microsoft.graph.<type>``, collections as
``{"@odata.context", "value", "@odata.nextLink"}``, errors as ``{"error": {...}}``). Views
that are not GraphViews get drf-spectacular's own behaviour.

Settings wire it: ``REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"]`` names ``GraphAutoSchema`` and
``SPECTACULAR_SETTINGS["PREPROCESSING_HOOKS"]`` keeps only the paths under /v1.0/.
"""

import re

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent

from . import odata
from .base import API_ROOT, EM, GraphType, GraphView

PREFIX = f"{API_ROOT}/{EM}/"
ERROR_SCHEMA = "microsoft.graph.ODataErrors.ODataError"
ERROR_STATUSES = {
    "400": "The request is malformed: a bad body, query option, enum value or date.",
    "401": "No token, or a token that is unknown, revoked or expired.",
    "403": "The token lacks the permission, or the caller may see but not change this.",
    "404": "Nothing with this id, or nothing the caller may see.",
    "409": "The change conflicts with the object's state (e.g. already decided).",
}
SCALARS = {
    "str": {"type": "string"},
    "id": {"type": "string"},
    "bool": {"type": "boolean"},
    "int": {"type": "integer", "format": "int64"},
    "datetime": {"type": "string", "format": "date-time"},
}
VERBS = {"post": "create", "patch": "update", "put": "replace", "delete": "delete"}


_QUOTE_GROUP = re.compile(r"\(\?P<(\w+)>'\?\)")
_GROUP = re.compile(r"\(\?P<(\w+)>(?:\[[^\]]*\]|\\.|[^()\[\\])*\)")


def url_path(path_regex: str) -> str:
    """The URL template of a Django route: ``<str:id>`` and regex groups become ``{id}``.

    Routes (``path()``) keep literal text such as ``$ref``; regex parts (``re_path()``, after a
    ``^``) lose their anchors, escapes and one-character classes, and an optional quote (or a
    group of one) becomes a quote, so that
    ``filterByCurrentUser\\(on=(?P<q>'?)(?P<on>[^')]*)(?P=q)\\)$`` reads as Graph writes it:
    ``filterByCurrentUser(on='{on}')``.
    """
    route, *regexes = re.split(r"(?:^|(?<=/))\^", path_regex)
    text = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)
    for regex in regexes:
        regex = regex.removesuffix("$")
        for quote in _QUOTE_GROUP.findall(regex):
            regex = regex.replace(f"(?P<{quote}>'?)", "'").replace(f"(?P={quote})", "'")
        regex = _GROUP.sub(r"{\1}", regex)
        regex = re.sub(r"\[(\\?[^\^\\])\]", r"\1", regex).replace("'?", "'")
        text += re.sub(r"\\(.)", r"\1", regex)
    return "/" + text.lstrip("/")


def only_graph_paths(endpoints, **kwargs):
    """drf-spectacular preprocessing hook: only the API under /v1.0/ is documented, each
    path as its URL reads (drf's own rendering mangles regexes and drops the $ of $ref)."""
    kept = []
    for _path, path_regex, method, callback in endpoints:
        path = url_path(path_regex)
        if path.startswith(f"{API_ROOT}/"):
            kept.append((path, path_regex, method, callback))
    return kept


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "governance.api.authentication.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer",
                "description": "An API client's token (registered in the admin) or a "
                               "personal token (from /profile/): Authorization: Bearer <token>."}


def field_schema(spec: odata.Field, *, nullable: bool = False) -> dict:
    schema = ({"type": "string", "enum": list(spec.values)} if spec.type == "enum"
              else dict(SCALARS.get(spec.type, {})))
    if nullable and schema:
        schema["nullable"] = True
    return schema


def relative_path(path: str) -> str:
    """``/v1.0/identityGovernance/entitlementManagement/catalogs/{id}`` → ``catalogs/{id}``."""
    if path.startswith(PREFIX):
        return path[len(PREFIX):]
    return path[len(API_ROOT) + 1:] if path.startswith(f"{API_ROOT}/") else path.lstrip("/")


def path_group(path: str) -> str:
    """The first segment after entitlementManagement/ (or after /v1.0/): the docs' group."""
    return relative_path(path).split("/", 1)[0] or "root"


def _parameter(name: str, location: str, schema: dict, description: str,
               required: bool = False) -> dict:
    parameter = {"in": location, "name": name, "schema": schema, "description": description}
    if required or location == "path":
        parameter["required"] = True
    return parameter


def odata_parameters(graph_type: GraphType | None, collection: bool) -> list[dict]:
    """$select and $expand for entities; every supported option for collections."""
    fields = sorted(n for n in graph_type.fields if "/" not in n) if graph_type else []
    expandable = ", ".join(graph_type.expandable) if graph_type and graph_type.expandable \
        else "none"
    parameters = [
        _parameter("$select", "query", {"type": "string"},
                   "Comma-separated properties to return (id always comes back). "
                   f"Selectable: {', '.join(fields) or 'none'}."),
        _parameter("$expand", "query", {"type": "string"},
                   f"Comma-separated navigation properties, one level. Expandable: {expandable}."),
    ]
    if not collection:
        return parameters
    sortable = sorted(n for n, f in (graph_type.fields.items() if graph_type else ())
                      if f.sortable)
    return [
        _parameter("$filter", "query", {"type": "string"},
                   "eq, ne, and, or, not, parentheses and startswith(property,'text'); "
                   f"filterable: {', '.join(fields) or 'none'}."),
        *parameters,
        _parameter("$orderby", "query", {"type": "string"},
                   f"property [asc|desc], comma-separated; sortable: {', '.join(sortable)}."),
        _parameter("$top", "query",
                   {"type": "integer", "minimum": 1, "maximum": odata.MAX_TOP},
                   f"Page size (default {odata.DEFAULT_TOP}); more pages via @odata.nextLink."),
        _parameter("$skiptoken", "query", {"type": "string"},
                   "Opaque paging token: follow @odata.nextLink rather than building it."),
        _parameter("$count", "query", {"type": "boolean"},
                   "true adds @odata.count, the number of matching items."),
    ]


class GraphAutoSchema(AutoSchema):
    """Operations of GraphViews from their declarations; anything else as drf-spectacular."""

    def get_operation(self, path, path_regex, path_prefix, method, registry):
        if not isinstance(self.view, GraphView):
            return super().get_operation(path, path_regex, path_prefix, method, registry)
        self.registry, self.path, self.path_regex = registry, path, path_regex
        self.path_prefix, self.method = path_prefix, method.upper()
        view, verb = self.view, method.lower()
        collection = verb == "get" and view.is_collection
        operation = {"operationId": self.graph_operation_id(verb, collection),
                     "summary": self.graph_summary(verb, collection),
                     "tags": [path_group(path)]}
        description = self.graph_description(verb)
        if description:
            operation["description"] = description
        parameters = [_parameter(name, "path", {"type": "string"}, (
            f"The id of the {name.removesuffix('_id').replace('_', ' ')}."
            if name.endswith("_id") else f"The value of {name}."))
            for name in re.findall(r"{(\w+)}", path)]
        if verb == "get":
            parameters += odata_parameters(view.graph_type, collection)
        if parameters:
            operation["parameters"] = parameters
        if verb in ("post", "patch", "put") and view.body_properties:
            operation["requestBody"] = {"required": True, "content": {
                "application/json": {"schema": self.body_schema()}}}
        operation["security"] = self.get_auth()
        operation["responses"] = self.graph_responses(verb, collection)
        return operation

    def graph_operation_id(self, verb: str, collection: bool) -> str:
        segments = ["item" if s.startswith("{") else re.match(r"\$?(\w*)", s).group(1)
                    for s in relative_path(self.path).split("/") if s]
        if verb == "get":
            action = "list" if collection else "get"
        elif verb == "post" and (self.view.is_action or not self.view.is_collection):
            action = "post"
        else:
            action = VERBS.get(verb, verb)
        return ".".join([*segments, action])

    def graph_summary(self, verb: str, collection: bool) -> str:
        docstring = (getattr(getattr(self.view, verb, None), "__doc__", None) or "").strip()
        if docstring:
            return docstring.splitlines()[0].rstrip(".")
        graph_type = self.view.graph_type
        name = graph_type.name if graph_type else relative_path(self.path).rsplit("/", 1)[-1]
        if verb == "get":
            return f"List {relative_path(self.path).rsplit('/', 1)[-1]}" if collection \
                else f"Get {name}"
        if verb == "post" and (self.view.is_action or not self.view.is_collection):
            return f"Invoke {relative_path(self.path).rsplit('/', 1)[-1]}"
        return f"{VERBS.get(verb, verb).capitalize()} {name}"

    def graph_description(self, verb: str) -> str:
        text = (self.view.__class__.__doc__ or "").strip()
        return text if text and text != (GraphView.__doc__ or "").strip() else ""

    def body_schema(self) -> dict:
        fields = self.view.graph_type.fields if self.view.graph_type else {}
        properties = {name: field_schema(fields[name], nullable=True) if name in fields else {}
                      for name in self.view.body_properties}
        return {"type": "object", "properties": properties, "additionalProperties": False}

    def component(self, name: str, schema: dict) -> dict:
        component = ResolvedComponent(name=name, type=ResolvedComponent.SCHEMA,
                                      schema=schema, object=name)
        self.registry.register_on_missing(component)
        return component.ref

    def entity_ref(self) -> dict | None:
        graph_type = self.view.graph_type
        if graph_type is None:
            return None
        properties = {"@odata.context": {"type": "string"}}
        properties.update({name: field_schema(spec, nullable=name != "id")
                           for name, spec in graph_type.fields.items() if "/" not in name})
        properties.update({name: {} for name in graph_type.expandable if name not in properties})
        return self.component(f"microsoft.graph.{graph_type.name}", {
            "type": "object", "properties": properties, "additionalProperties": True})

    def collection_ref(self, entity: dict) -> dict:
        return self.component(f"microsoft.graph.{self.view.graph_type.name}CollectionResponse", {
            "type": "object",
            "properties": {"@odata.context": {"type": "string"},
                           "@odata.count": {"type": "integer", "format": "int64"},
                           "@odata.nextLink": {"type": "string", "nullable": True},
                           "value": {"type": "array", "items": entity}},
            "additionalProperties": True})

    def error_ref(self) -> dict:
        inner = {"type": "object", "properties": {"date": {"type": "string"},
                                                  "request-id": {"type": "string"}}}
        return self.component(ERROR_SCHEMA, {
            "type": "object", "required": ["error"],
            "properties": {"error": {"type": "object", "required": ["code", "message"],
                                     "properties": {"code": {"type": "string"},
                                                    "message": {"type": "string"},
                                                    "innerError": inner}}}})

    def graph_responses(self, verb: str, collection: bool) -> dict:
        entity = self.entity_ref()

        def body(description, schema):
            return {"description": description,
                    "content": {"application/json": {"schema": schema}}}

        responses = {}
        if verb == "post" and self.view.is_action and entity:
            # A Graph action that reads: 200 with its answer, nothing else.
            responses["200"] = body("The action's answer", self.collection_ref(entity)
                                    if self.view.is_collection else entity)
        elif verb == "get":
            responses["200"] = body(
                "The collection (one page)" if collection else "The entity",
                ({"type": "object"} if not entity else
                 self.collection_ref(entity) if collection else entity))
        elif verb == "post" and self.view.is_collection and entity:
            responses["201"] = body("Created", entity)
        elif verb in ("post", "patch", "put") and entity:
            responses["200"] = body("The entity", entity)
            if verb == "post":
                responses["201"] = body("Created", entity)
        acts_later = verb == "post" and not self.view.is_collection and not self.view.is_action
        if acts_later:
            responses["202"] = {"description": "Accepted; the work goes on in the background"}
        if (not entity and verb != "get") or verb in ("patch", "put", "delete") or acts_later:
            responses["204"] = {"description": "Done; no content"}
        error = self.error_ref()
        for status, description in ERROR_STATUSES.items():
            if status != "409" or verb != "get":
                responses[status] = body(description, error)
        return responses


def build_document() -> dict:
    """The OpenAPI document of every endpoint under /v1.0/ (as SPECTACULAR_SETTINGS say)."""
    return SchemaGenerator().get_schema(request=None, public=True)
