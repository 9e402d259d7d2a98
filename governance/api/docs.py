"""Placeholder: the OpenAPI document and the API docs page arrive here."""

from django.http import HttpResponse


def openapi_document(request):
    return HttpResponse(status=404)


def docs_page(request):
    return HttpResponse(status=404)
