"""Start-up checks: with DEBUG off, the portal refuses to run on the demo's keys.

They are errors, not deploy warnings, so that `migrate`, `runserver` and `check` stop
instead of starting a production site whose links anyone can sign (the demo key is
published in this repository, and long enough to pass Django's own security.W009).
"""

from django.conf import settings
from django.core.checks import Error, register
from django.core.exceptions import ImproperlyConfigured

from governance.security import secrets


@register()
def production_keys(app_configs, **kwargs):
    if settings.DEBUG:
        return []
    problems = []
    if not settings.SECRET_KEY or settings.SECRET_KEY == settings.DEMO_SECRET_KEY:
        problems.append(Error(
            "SECRET_KEY is not set, so the portal would use the demo's published key.",
            hint="Set SECRET_KEY (or SECRET_KEY_FILE) to at least 50 random characters, e.g. "
                 "python3 -c \"import secrets; print(secrets.token_urlsafe(50))\".",
            id="portal.E001"))
    problem = secrets.keys_problem()
    if problem:
        problems.append(Error(problem, hint=secrets.KEYS_HINT, id="portal.E002"))
    return problems


def refuse_to_start_on_unsafe_keys() -> None:
    """For gunicorn and the Celery worker and beat, which run no system checks of their own:
    stop with the same errors that `check` would print.

    :raises ImproperlyConfigured: naming each variable to set.
    """
    errors = production_keys(None)
    if errors:
        raise ImproperlyConfigured("; ".join(f"{error.msg} {error.hint}" for error in errors))
