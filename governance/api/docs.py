"""The API's OpenAPI document (/api/openapi.json) and a page that reads it (/api/docs/).

Both are public: they describe the endpoints and reveal no data. The page is rendered on the
server from the same document, without any script, so it works on machines with no internet.
"""

import functools

from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from .base import API_ROOT, EM
from .schema import ERROR_STATUSES, build_document, path_group, relative_path

METHODS = ("get", "post", "patch", "put", "delete")
QUERY_OPTIONS = [
    ("$filter", "eq, ne, and, or, not, parentheses, startswith(property,'text'); "
                "e.g. $filter=state eq 'published' and startswith(displayName,'Sales')"),
    ("$select", "the properties to return, e.g. $select=displayName,state"),
    ("$expand", "navigation properties, one level, e.g. $expand=resourceRoleScopes"),
    ("$orderby", "e.g. $orderby=displayName desc"),
    ("$top", "page size, 1 to 999; the next page is at @odata.nextLink"),
    ("$count", "$count=true adds @odata.count"),
]


@functools.cache
def served_document() -> dict:
    """Built once per process: the routes do not change while it runs."""
    return build_document()


@require_GET
def openapi_document(request):
    return JsonResponse(served_document(), json_dumps_params={"indent": 1})


def _operations(document: dict) -> list[dict]:
    """Groups of paths (by the first segment after entitlementManagement/), each path with
    its operations, summaries, parameters and body properties."""
    groups: dict[str, list] = {}
    for path, item in document["paths"].items():
        operations = []
        for method in METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            body = (operation.get("requestBody", {}).get("content", {})
                    .get("application/json", {}).get("schema", {}))
            operations.append({
                "method": method.upper(),
                "id": operation["operationId"],
                "summary": operation.get("summary", ""),
                "description": operation.get("description", ""),
                "parameters": operation.get("parameters", []),
                "body": list(body.get("properties", {})),
                "statuses": [s for s in operation.get("responses", {}) if s < "400"],
            })
        groups.setdefault(path_group(path), []).append(
            {"path": path, "relative": relative_path(path), "operations": operations})
    return [{"name": name, "paths": paths} for name, paths in sorted(groups.items())]


@require_GET
def docs_page(request):
    document = served_document()
    base_url = request.build_absolute_uri(f"{API_ROOT}/")
    return render(request, "api/docs.html", {
        "info": document["info"],
        "base_url": base_url,
        "em_url": f"{base_url}{EM}",
        "groups": _operations(document),
        "query_options": QUERY_OPTIONS,
        "errors": sorted(ERROR_STATUSES.items()),
        "nav": "api",
    })
