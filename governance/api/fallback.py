"""A Graph-shaped answer for paths under /v1.0/ that no endpoint serves."""

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt

from .errors import error_body


@csrf_exempt
def not_found(request, *args, **kwargs):
    segment = request.path.rstrip("/").rsplit("/", 1)[-1]
    return JsonResponse(error_body("ResourceNotFound",
                                   f"Resource not found for the segment '{segment}'."),
                        status=404)
