import os

from celery import Celery
from celery.signals import beat_init, worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
@beat_init.connect
def _refuse_unsafe_keys(**kwargs):
    # Workers sign approval links and use the stored secrets: the same keys as the web.
    # SystemExit, because celery logs and swallows a handler's ordinary exceptions.
    from django.core.exceptions import ImproperlyConfigured

    from portal.checks import refuse_to_start_on_unsafe_keys

    try:
        refuse_to_start_on_unsafe_keys()
    except ImproperlyConfigured as problem:
        raise SystemExit(f"Not starting: {problem}") from None
