// The person's time zone, for the pages' dates (portal.middleware.PersonTimeZoneMiddleware).
document.cookie = "tz=" + encodeURIComponent(Intl.DateTimeFormat().resolvedOptions().timeZone) +
  ";path=/;max-age=31536000;samesite=lax";
