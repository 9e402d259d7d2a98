"""Placeholder: the profile page with the person's own API tokens arrives here."""

from django.http import HttpResponse


def profile(request):
    return HttpResponse(status=404)
