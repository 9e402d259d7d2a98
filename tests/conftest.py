"""Service detection for the whole suite: PostgreSQL and Redis.

A test marked ``@pytest.mark.services`` (or using the ``require_postgres`` /
``require_redis`` fixtures) needs the default database to be PostgreSQL and Redis to answer
at ``settings.CELERY_BROKER_URL``. Without them it is skipped with the reason, and ``-ra``
lists it at the end; with ``REQUIRE_SERVICES=1`` (as ``.ci/run`` sets) a missing server fails
the run at session start instead. Factories live in ``tests/factories.py``; the fixtures
shared by the integration and browser tests (a per-test Celery queue, a real worker on it,
an SMTP server, the real scim2-server and a custom extension's receiver, all on loopback)
live here, the rest in the sub-directory conftests.
"""

import functools
import os
import socket
import time

import pytest

# Playwright's sync API runs an event loop in the test thread; Django would refuse ORM calls.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def services_required() -> bool:
    return os.environ.get("REQUIRE_SERVICES", "").strip().lower() in {"1", "true", "yes", "on"}


@functools.cache
def postgres_problem() -> str | None:
    """Why the PostgreSQL tests cannot run here, or None when they can."""
    from django.conf import settings

    database = settings.DATABASES["default"]
    if "postgresql" not in database["ENGINE"]:
        return (f"needs PostgreSQL, but the default database is {database['ENGINE']} "
                "(make test sets DATABASE_URL when 127.0.0.1:5432 answers)")
    host = database.get("HOST") or "/var/run/postgresql"
    port = int(database.get("PORT") or 5432)
    try:
        if host.startswith("/"):
            with socket.socket(socket.AF_UNIX) as sock:
                sock.settimeout(2)
                sock.connect(f"{host}/.s.PGSQL.{port}")
        else:
            socket.create_connection((host, port), timeout=2).close()
    except OSError as exc:
        return f"needs PostgreSQL, which does not answer at {host}:{port} ({exc})"
    return None


@functools.cache
def redis_problem() -> str | None:
    """Why the Redis tests cannot run here, or None when they can."""
    from django.conf import settings

    url = settings.CELERY_BROKER_URL
    if not url.startswith(("redis://", "rediss://")):
        return (f"needs Redis, but the Celery broker is {url.split(':', 1)[0]}:// "
                "(make test sets REDIS_URL when 127.0.0.1:6379 answers)")
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
        try:
            client.ping()
        finally:
            client.close()
    except redis.RedisError as exc:
        return f"needs Redis, which does not answer at {url} ({exc})"
    return None


def services_problems() -> list[str]:
    return [problem for problem in (postgres_problem(), redis_problem()) if problem]


def _skip_or_fail(problems: list[str]) -> None:
    if not problems:
        return
    reason = "; ".join(problems)
    if services_required():
        pytest.fail(f"REQUIRE_SERVICES=1: {reason}", pytrace=False)
    pytest.skip(reason)


def pytest_sessionstart(session):
    if services_required() and (problems := services_problems()):
        raise pytest.UsageError(
            "REQUIRE_SERVICES=1 but a server is missing:\n  " + "\n  ".join(problems))


def pytest_collection_modifyitems(config, items):
    marked = [item for item in items if item.get_closest_marker("services")]
    if not marked or not (problems := services_problems()):
        return
    # A skip marker (rather than a skip from a hook) makes -ra name the test's own file.
    skip = pytest.mark.skip(reason="; ".join(problems))
    for item in marked:
        item.add_marker(skip)


@pytest.fixture
def require_postgres():
    _skip_or_fail([postgres_problem()] if postgres_problem() else [])


@pytest.fixture
def require_redis():
    _skip_or_fail([redis_problem()] if redis_problem() else [])


@pytest.fixture
def task_queue(settings):
    """A Celery queue of this test's own, deleted afterwards.

    Tasks published after commit go to the broker for real; none is left behind for a later
    test's worker to run against rows that this test's database flush removed.
    """
    import uuid

    from portal.celery import app

    queue = f"test-{uuid.uuid4().hex[:8]}"
    previous = app.conf.task_default_queue
    app.conf.task_default_queue = queue
    try:
        yield queue
    finally:
        app.conf.task_default_queue = previous
        from kombu import Exchange, Queue

        with app.connection_for_write() as connection:
            channel = connection.default_channel
            # kombu deletes only the bindings its channel knows, so declare them first.
            Queue(queue, Exchange(queue, type="direct"), routing_key=queue)(channel).declare()
            channel.queue_delete(queue)


def wait_for(predicate, *, timeout: float = 20.0, what: str = "condition"):
    """Poll until `predicate()` is truthy; the worker runs in another thread."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError(f"Timed out after {timeout} s waiting for {what}.")


@pytest.fixture
def smtp_server(settings):
    """An SMTP server on 127.0.0.1 (aiosmtpd) that keeps what it receives; Django sends to it.

    The fixture's value is the `tests.mail.Mailbox`; its `stop()` takes the server down.
    """
    from tests.mail import Mailbox

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    mailbox = Mailbox("127.0.0.1", port)
    mailbox.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    try:
        yield mailbox
    finally:
        mailbox.stop()


@pytest.fixture
def worker_email_backend(settings):
    """Where the worker's emails go: Django's locmem `mail.outbox`, unless a conftest below
    overrides this fixture (the browser tests send them to `smtp_server`)."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


@pytest.fixture
def celery_worker(transactional_db, settings, require_redis, task_queue, worker_email_backend):
    """A real Celery worker, in a thread, consuming this test's own queue on Redis."""
    from celery.contrib.testing.worker import start_worker

    from portal.celery import app

    with start_worker(app, pool="solo", perform_ping_check=False, queues=[task_queue],
                      shutdown_timeout=20):
        yield app


@pytest.fixture
def monday():
    """Time stands still at tests.factories.MONDAY."""
    import time_machine

    from tests.factories import MONDAY

    with time_machine.travel(MONDAY, tick=False) as traveller:
        yield traveller


@pytest.fixture
def deputy(world):
    """A member who stands in for an approver who is out of office."""
    from tests.factories import UserFactory

    return UserFactory(email="deputy@access.example", display_name="Deputy")


@pytest.fixture
def scim_server(tmp_path):
    """The real scim2-server on a free loopback port (tests.scim_server.ScimServer), with
    the bearer token tests.scim_server.TOKEN; its log is in the test's tmp_path."""
    from tests.scim_server import TOKEN, ScimServer

    server = ScimServer(token=TOKEN, log_path=tmp_path / "scim2-server.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def receiver():
    """A custom extension's receiver on loopback (tests.webhook_receiver.Receiver) that
    checks the signature with tests.extension_helpers.SECRET."""
    from tests.extension_helpers import SECRET
    from tests.webhook_receiver import Receiver

    started = Receiver(SECRET).start()
    yield started
    started.stop()


# The extension hosts the page and service tests name: reserved names (RFC 2606) that never
# resolve, so nothing sent to them can leave the machine.
FICTIONAL_HOOKS = ("hooks.contoso.example", "hooks.example")


@pytest.fixture
def fictional_hooks_allowed(db):
    """A global administrator allow-lists FICTIONAL_HOOKS by name, so that saving an extension
    aimed at them is not refused as an unknown host (tests.extension_helpers.allow_outbound)."""
    from tests.extension_helpers import allow_outbound

    allow_outbound(*FICTIONAL_HOOKS)


@pytest.fixture
def world_database(db):
    """The database the `world` is built in: a test's transaction, except where a conftest
    needs it committed (tests/concurrency)."""


@pytest.fixture
def fast_passwords(settings):
    # The factories hash a password per person: PBKDF2 would spend seconds on them.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def world(world_database, fast_passwords):
    """tests.factories.build_world(): the fixed people, catalog, package and policy."""
    from tests.factories import build_world

    return build_world()


@pytest.fixture(scope="module")
def oidc_provider(tmp_path_factory):
    """The real oidc-provider-mock on loopback (tests/oidc_provider.py), for a module."""
    from tests.oidc_provider import OidcProvider

    started = OidcProvider(log_path=tmp_path_factory.mktemp("oidc") / "oidc-provider-mock.log")
    started.start()
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture
def as_user(client):
    """Sign a person in on the test client and return it."""
    def sign_in(user):
        client.force_login(user, backend="allauth.account.auth_backends.AuthenticationBackend")
        return client
    return sign_in
