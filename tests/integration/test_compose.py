"""docker-compose.yml cannot run here (no Docker engine), so its structure is checked instead."""

import re
import shlex
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PORTAL_SERVICES = ("web", "worker", "beat")
REQUIRED_ENV = ("DATABASE_URL", "REDIS_URL", "EMAIL_URL", "SITE_URL", "ALLOWED_HOSTS")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def readme() -> str:
    return (ROOT / "README.md").read_text()


def environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {name: str(value) for name, value in env.items()}


def command(service: dict) -> str:
    value = service.get("command", "")
    return shlex.join(value) if isinstance(value, list) else " ".join(value.split())


def depends_on(service: dict) -> set[str]:
    return set(service.get("depends_on") or [])


def test_the_six_services(compose):
    assert set(compose["services"]) == {"postgres", "redis", "web", "worker", "beat", "mailpit"}
    assert compose["services"]["postgres"]["image"].startswith("postgres:16")
    assert compose["services"]["redis"]["image"].startswith("redis:7")


def test_web_worker_and_beat_run_the_same_image(compose):
    services = compose["services"]
    builds = {(repr(services[name].get("build")), services[name].get("image"))
              for name in PORTAL_SERVICES}
    assert len(builds) == 1
    build, _image = builds.pop()
    assert build != "None", "the portal services are built from the Dockerfile"
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim", dockerfile, re.MULTILINE)
    assert "pip install ." in dockerfile
    assert "collectstatic" in dockerfile


@pytest.mark.parametrize("name", PORTAL_SERVICES)
def test_portal_services_share_the_configuration(compose, name):
    env = environment(compose["services"][name])
    for variable in REQUIRED_ENV:
        assert env.get(variable), f"{name} lacks {variable}"
    assert env.get("SECRET_KEY") or env.get("SECRET_KEY_FILE"), f"{name} lacks a secret key"
    assert env == environment(compose["services"]["web"]), "one shared environment block"
    assert env["DATABASE_URL"].startswith("postgres://")
    assert "@postgres:5432/" in env["DATABASE_URL"]
    assert env["REDIS_URL"].startswith("redis://redis:6379")
    assert env["EMAIL_URL"] == "smtp://mailpit:1025"


@pytest.mark.parametrize("name", PORTAL_SERVICES)
def test_portal_services_depend_on_postgres_and_redis(compose, name):
    assert {"postgres", "redis"} <= depends_on(compose["services"][name])


def test_the_key_files_are_declared_secrets(compose):
    for name in PORTAL_SERVICES:
        service = compose["services"][name]
        for variable in ("SECRET_KEY_FILE", "SECRETS_KEY_FILE"):
            path = environment(service).get(variable)
            assert path, f"{name} lacks {variable}: production refuses to start without it"
            secret = path.removeprefix("/run/secrets/")
            assert secret in service.get("secrets", []), f"{name} does not mount {secret}"
            assert secret in compose.get("secrets", {})


def test_commands(compose):
    services = compose["services"]
    web = command(services["web"])
    assert "gunicorn portal.wsgi" in web
    assert "migrate" in web and web.index("migrate") < web.index("gunicorn")
    assert re.search(r"\bcelery -A portal worker\b", command(services["worker"]))
    assert re.search(r"\bcelery -A portal beat\b", command(services["beat"]))


def test_mailpit_catches_smtp_and_shows_it(compose):
    ports = " ".join(str(port) for port in compose["services"]["mailpit"].get("ports", []))
    assert "1025" in ports and "8025" in ports


def test_every_compose_variable_is_documented(compose, readme):
    raw = (ROOT / "docker-compose.yml").read_text()
    names = {name for service in PORTAL_SERVICES
             for name in environment(compose["services"][service])}
    names |= set(re.findall(r"\$\{([A-Z_][A-Z0-9_]*)", raw))
    missing = sorted(name for name in names if f"`{name}`" not in readme)
    assert not missing, f"not documented in README.md: {missing}"


def test_every_setting_read_from_the_environment_is_documented(readme):
    settings_source = (ROOT / "portal" / "settings.py").read_text()
    names = set(re.findall(r"\benv(?:_bool|_list)?\(\s*\"([A-Z_][A-Z0-9_]*)\"", settings_source))
    assert {"DATABASE_URL", "REDIS_URL", "SECRET_KEY"} <= names
    missing = sorted(name for name in names if f"`{name}`" not in readme)
    assert not missing, f"not documented in README.md: {missing}"
