"""The Django view in front of the SCIM application: one URL for every SCIM path."""

import json

from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt
from scim2_server.requests import ScimRequest

from governance.scim.service import APPLICATION

PREFIX = "/scim/v2"


@csrf_exempt
def scim_endpoint(request, path: str = ""):
    base_url = request.build_absolute_uri(PREFIX)
    scim_request = ScimRequest(
        method=request.method, base_url=base_url, path=f"/{path}".removesuffix(".scim"),
        query={key: request.GET.get(key) for key in request.GET},
        headers={key: value for key, value in request.headers.items()},
        body=request.body,
    )
    response = APPLICATION.serve(scim_request)
    body = b"" if response.body is None else json.dumps(response.body).encode()
    answer = HttpResponse(body, status=response.status.value)
    for name, value in response.headers.items():
        answer[name] = value
    return answer
