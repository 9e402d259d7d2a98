import zoneinfo

from django.utils import timezone

# Set by a line of script in base.html from the browser's own time zone.
BROWSER_ZONE_COOKIE = "tz"


def _zone(name: str) -> zoneinfo.ZoneInfo | None:
    try:
        return zoneinfo.ZoneInfo(name) if name else None
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None


class PersonTimeZoneMiddleware:
    """Show dates in the person's time zone: the one stored for them, else their browser's,
    else the portal's TIME_ZONE."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        stored = getattr(request.user, "time_zone", "") if request.user.is_authenticated else ""
        zone = _zone(stored) or _zone(request.COOKIES.get(BROWSER_ZONE_COOKIE, "")[:64])
        if zone:
            timezone.activate(zone)
        else:
            timezone.deactivate()
        return self.get_response(request)
