"""Browser tests: Debian's Chromium, driven by Playwright, against pytest-django's live server.

Every test here is marked `services` (PostgreSQL and Redis) and also needs Chromium at
/usr/bin/chromium: without it the tests are skipped, and with REQUIRE_SERVICES=1 they fail.
Work after a commit is done as in production, by a real Celery worker on this test's own
Redis queue, and its emails go through the outbox to an SMTP server on loopback (aiosmtpd).
"""

import uuid
from pathlib import Path

import pytest

from tests.conftest import services_required

CHROMIUM = Path("/usr/bin/chromium")
HERE = Path(__file__).parent
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    # First, so that tests/conftest.py's hook sees the marker and skips without the servers.
    for item in items:
        if HERE in Path(item.path).parents:
            item.add_marker(pytest.mark.services)


@pytest.fixture(scope="session", autouse=True)
def chromium() -> Path:
    if not CHROMIUM.exists():
        reason = f"needs Chromium at {CHROMIUM} (apt-get install chromium; .ci/run does)"
        if services_required():
            pytest.fail(f"REQUIRE_SERVICES=1: {reason}", pytrace=False)
        pytest.skip(reason)
    return CHROMIUM


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args, chromium):
    """pytest-playwright's options (--slowmo), with Debian's Chromium, headless."""
    return {**browser_type_launch_args, "executable_path": str(chromium), "headless": True,
            "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def base_url(live_server) -> str:
    """Pages open by path: page.goto("/requests/")."""
    return live_server.url


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1280, "height": 800},
            "locale": "en-GB", "timezone_id": "UTC"}


@pytest.fixture
def new_context(new_context):
    """Each person's browser context (`context` is the first); waits give up after 10 s."""

    def make(**kwargs):
        created = new_context(**kwargs)
        created.set_default_timeout(10_000)
        return created

    return make


@pytest.fixture(autouse=True)
def own_cache(settings):
    """A fresh in-memory cache per test: allauth's rate limits count sign-ins and code requests
    there, and counts left in Redis by an earlier run would refuse this run's sign-ins."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": f"browser-{uuid.uuid4().hex}"}}


@pytest.fixture
def worker_email_backend(smtp_server):
    """The worker sends the outbox's emails to the SMTP server (tests/conftest.py's), not
    to locmem."""
    return smtp_server


@pytest.fixture
def portal(live_server, celery_worker, smtp_server):
    """The whole portal as in production: web server, worker, and a mail server."""
    return live_server
