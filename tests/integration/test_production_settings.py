"""portal.settings as production starts it (DEBUG off), in a subprocess with a clean
environment: the demo's keys stop the start-up; the README's production environment passes
Django's deployment checks with no warning."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEMO_KEY = "insecure-demo-key-change-me-" + "x" * 24


def manage(tmp_path, *args, **environment) -> subprocess.CompletedProcess:
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "VAR_DIR": str(tmp_path / "var"),
           "DJANGO_SETTINGS_MODULE": "portal.settings", **environment}
    return subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def production_environment() -> dict:
    """The README's production environment (Configuration, "In production")."""
    return {"SECRET_KEY": secrets.token_urlsafe(50), "SECRETS_KEY": secrets.token_urlsafe(32),
            "SITE_URL": "https://access.example.org", "ALLOWED_HOSTS": "access.example.org",
            "SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto",
            "DATABASE_URL": "postgres://portal:secret@db.internal:5432/portal",
            "REDIS_URL": "redis://redis.internal:6379/0"}


@pytest.mark.parametrize("secret_key", [None, "", DEMO_KEY])
def test_the_demo_key_or_none_stops_a_production_start(tmp_path, secret_key):
    environment = production_environment()
    if secret_key is None:
        del environment["SECRET_KEY"]
    else:
        environment["SECRET_KEY"] = secret_key
    result = manage(tmp_path, "check", **environment)
    assert result.returncode != 0
    assert "portal.E001" in result.stderr and "SECRET_KEY is not set" in result.stderr


@pytest.mark.parametrize(("secrets_key", "problem"), [
    (None, "SECRETS_KEY is not set"),
    ("too-short", "at least 32 characters"),
    ("same", "must differ from SECRET_KEY"),
])
def test_a_missing_or_weak_secrets_key_stops_a_production_start(tmp_path, secrets_key, problem):
    environment = production_environment()
    if secrets_key is None:
        del environment["SECRETS_KEY"]
    else:
        environment["SECRETS_KEY"] = (environment["SECRET_KEY"] if secrets_key == "same"
                                      else secrets_key)
    result = manage(tmp_path, "check", **environment)
    assert result.returncode != 0
    assert "portal.E002" in result.stderr and problem in result.stderr


def test_the_demo_still_starts_on_its_embedded_defaults(tmp_path):
    result = manage(tmp_path, "check", DEBUG="1")
    assert result.returncode == 0, result.stderr


def test_the_documented_production_environment_passes_the_deployment_checks(tmp_path):
    result = manage(tmp_path, "check", "--deploy", "--fail-level", "WARNING",
                    **production_environment())
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_production_sends_the_security_headers(tmp_path):
    script = ("from django.test import Client; from django.test.utils import "
              "setup_test_environment; setup_test_environment(); "
              "r = Client().get('/accounts/login/', secure=True, "
              "HTTP_HOST='access.example.org'); "
              "print(r.status_code); [print(k + ': ' + r.headers.get(k, '')) for k in "
              "('Strict-Transport-Security', 'Content-Security-Policy', 'X-Frame-Options')]; "
              "print('plain:', Client().get('/accounts/login/', "
              "HTTP_HOST='access.example.org').status_code)")
    environment = production_environment() | {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'portal.sqlite3'}"}
    assert manage(tmp_path, "migrate", "--noinput", **environment).returncode == 0
    result = manage(tmp_path, "shell", "-c", script, **environment)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()[-5:]  # after shell's "… objects imported" line
    assert lines[0] == "200", result.stdout
    assert "max-age=31536000; includeSubDomains; preload" in lines[1]
    assert "script-src 'self'" in lines[2]
    assert "'unsafe-inline'" not in lines[2].split("script-src", 1)[1].split(";")[0]
    assert "frame-ancestors 'none'" in lines[2]
    assert lines[3].endswith("DENY")
    assert lines[4] == "plain: 301"  # http is redirected to https


def run_python(tmp_path, *args, **environment) -> subprocess.CompletedProcess:
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "VAR_DIR": str(tmp_path / "var"),
           "DJANGO_SETTINGS_MODULE": "portal.settings", "PYTHONPATH": str(ROOT), **environment}
    return subprocess.run([sys.executable, *args], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=120)


def test_gunicorn_and_celery_refuse_the_demo_keys_too(tmp_path):
    """They run no system checks: the web's application and the worker stop themselves."""
    web = run_python(tmp_path, "-c", "import portal.wsgi")
    assert web.returncode != 0 and "ImproperlyConfigured" in web.stderr
    assert "SECRET_KEY is not set" in web.stderr
    worker = run_python(tmp_path, "-m", "celery", "-A", "portal", "worker", "--pool", "solo")
    assert worker.returncode == 1
    assert "Not starting: SECRET_KEY is not set" in worker.stderr
    started = run_python(tmp_path, "-c", "import portal.wsgi; print('serving')",
                         **production_environment())
    assert started.returncode == 0 and "serving" in started.stdout, started.stderr
