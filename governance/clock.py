"""The one source of "now", so that tests can travel in time."""

from datetime import datetime

from django.utils import timezone


def now() -> datetime:
    return timezone.now()
