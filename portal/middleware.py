from django.utils import timezone

from governance.clock import zone_named

# Set by static/portal/time-zone.js, from the browser's own time zone.
BROWSER_ZONE_COOKIE = "tz"


class PersonTimeZoneMiddleware:
    """Show dates in the person's time zone: the one stored for them, else their browser's,
    else the portal's TIME_ZONE. A name that is no known zone is ignored."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        stored = getattr(request.user, "time_zone", "") if request.user.is_authenticated else ""
        zone = zone_named(stored) or zone_named(request.COOKIES.get(BROWSER_ZONE_COOKIE, ""))
        if zone:
            timezone.activate(zone)
        else:
            timezone.deactivate()
        return self.get_response(request)
