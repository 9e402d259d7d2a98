"""Settings, read from environment variables (see README, "Configuration")."""

from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from governance.security.env import env, env_bool, env_list

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env("VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("DEBUG", default=False)
# The embedded default key only serves the demo: with DEBUG off, portal.checks refuses to
# start with it (or without SECRET_KEY), so that nobody signs links with a published key.
DEMO_SECRET_KEY = "insecure-demo-key-change-me-" + "x" * 24
SECRET_KEY = env("SECRET_KEY", "") or DEMO_SECRET_KEY
# The keys of the secrets stored in the database and of the custom extensions' callback
# addresses, newest first: add a new key in front, run `manage.py rotate_secrets`, then drop
# the old one. Required with DEBUG off; never SECRET_KEY, so that a leaked SECRET_KEY alone
# neither decrypts the stored secrets nor forges a callback (governance.security.secrets).
SECRETS_KEY = env_list("SECRETS_KEY")
SITE_URL = (env("SITE_URL", "http://127.0.0.1:8000") or "").rstrip("/")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", urlsplit(SITE_URL).hostname or "localhost")
if DEBUG:
    ALLOWED_HOSTS += ["localhost", "127.0.0.1", "testserver"]
CSRF_TRUSTED_ORIGINS = [SITE_URL]

INSTALLED_APPS = [
    # Without autodiscovery: only governance.admin.admin_site exists, mounted at /admin/.
    "django.contrib.admin.apps.SimpleAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.microsoft",
    "allauth.socialaccount.providers.openid_connect",
    "rest_framework",
    "drf_spectacular",
    "csp",
    "governance",
    "portal.apps.PortalConfig",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "portal.middleware.PersonTimeZoneMiddleware",
    "csp.middleware.CSPMiddleware",
]

# --- Transport and browser security: on by default when DEBUG is off (see README) ---
# Behind a proxy that terminates TLS, SECURE_PROXY_SSL_HEADER names the header it sets
# (X-Forwarded-Proto) so that Django knows the request came over https.
_proxy_header = (env("SECURE_PROXY_SSL_HEADER", "") or "").strip()
if _proxy_header:
    SECURE_PROXY_SSL_HEADER = ("HTTP_" + _proxy_header.upper().replace("-", "_"), "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = int(env("SECURE_HSTS_SECONDS", "0" if DEBUG else "31536000"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Scripts only from our own static files (htmx is vendored; inline scripts carry the nonce);
# inline styles are allowed because the admin's own templates use style attributes.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, "'unsafe-inline'"],
        "img-src": [SELF, "data:"],
        "object-src": [NONE],
        "base-uri": [SELF],
        "frame-ancestors": [NONE],
    },
}

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "portal.context_processors.demo",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env("DATABASE_URL", f"sqlite:///{VAR_DIR / 'portal.sqlite3'}"), conn_max_age=60
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded demo runs web, worker and beat on one file: wait for locks, and take the
    # write lock at BEGIN so two writers never deadlock on a lock upgrade.
    DATABASES["default"]["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}
    DATABASES["default"]["CONN_MAX_AGE"] = 0
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Authentication (django-allauth): sign-in, sign-up rules, MFA, Microsoft, rate limits ---
AUTH_USER_MODEL = "governance.User"
AUTHENTICATION_BACKENDS = [
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
     "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "/"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = env("ACCOUNT_EMAIL_VERIFICATION", "mandatory")
ACCOUNT_EMAIL_VERIFICATION_BY_CODE_ENABLED = True
ACCOUNT_LOGIN_BY_CODE_ENABLED = True
ACCOUNT_LOGOUT_ON_GET = False
ACCOUNT_ADAPTER = "portal.adapters.AccountAdapter"
ACCOUNT_FORMS = {"signup": "portal.signup.SignupForm",
                 "request_login_code": "portal.signup.RequestLoginCodeForm"}
# allauth's defaults, spelled out: failed logins are limited per address and per IP.
ACCOUNT_RATE_LIMITS = {
    "login": "30/m/ip",
    "login_failed": "10/m/ip,5/5m/key",
    "signup": "20/m/ip",
    "request_login_code": "20/m/ip,3/m/key",
    "reset_password": "20/m/ip,5/m/key",
}
# Who may sign up: addresses of these domains become members; see signup_decision().
INTERNAL_EMAIL_DOMAINS = [domain.lower() for domain in
                          env_list("INTERNAL_EMAIL_DOMAINS", "access.example")]
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "My Access"
# Personal API tokens: the lifetime when none is chosen, and the longest one can be given.
API_TOKEN_DEFAULT_DAYS = int(env("API_TOKEN_DEFAULT_DAYS", "90"))
API_TOKEN_MAX_DAYS = int(env("API_TOKEN_MAX_DAYS", "365"))
# Saving a membership rule that would remove access from more people than this asks the
# admin to confirm it, naming the number (governance.admin.rule_editor).
AUTOMATIC_REMOVAL_CONFIRM_ABOVE = int(env("AUTOMATIC_REMOVAL_CONFIRM_ABOVE", "50"))
SOCIALACCOUNT_ADAPTER = "portal.adapters.SocialAccountAdapter"
SOCIALACCOUNT_LOGIN_ON_GET = False
SOCIALACCOUNT_PROVIDERS: dict = {"microsoft": {}}
# Sign-in with Microsoft is for internal users and is on only when the app is configured.
MICROSOFT_CLIENT_ID = env("MICROSOFT_CLIENT_ID", "")
MICROSOFT_CLIENT_SECRET = env("MICROSOFT_CLIENT_SECRET", "")
MICROSOFT_TENANT = env("MICROSOFT_TENANT", "")
if MICROSOFT_CLIENT_ID and MICROSOFT_CLIENT_SECRET and MICROSOFT_TENANT:
    SOCIALACCOUNT_PROVIDERS["microsoft"] = {
        "TENANT": MICROSOFT_TENANT,
        "APPS": [{"client_id": MICROSOFT_CLIENT_ID, "secret": MICROSOFT_CLIENT_SECRET,
                  "settings": {"tenant": MICROSOFT_TENANT}}],
    }
# Single sign-on with any OpenID Connect provider (Entra ID, Okta, Keycloak, Authentik…), on
# only when the issuer and the client are set. Its callback is
# SITE_URL/accounts/oidc/sso/login/callback/. The people it signs in are matched to the
# directory by their verified email, or by the claim that holds their SCIM externalId
# (portal.adapters.SocialAccountAdapter reads "match_claim" and "external_id_claim").
OIDC_ISSUER_URL = (env("OIDC_ISSUER_URL", "") or "").rstrip("/")
OIDC_CLIENT_ID = env("OIDC_CLIENT_ID", "")
OIDC_MATCH_CLAIM = env("OIDC_MATCH_CLAIM", "") or "email"
if OIDC_MATCH_CLAIM not in ("email", "external_id"):
    raise ImproperlyConfigured(
        f"OIDC_MATCH_CLAIM is {OIDC_MATCH_CLAIM!r}: it is either email or external_id.")
if OIDC_ISSUER_URL and OIDC_CLIENT_ID:
    SOCIALACCOUNT_PROVIDERS["openid_connect"] = {"APPS": [{
        "provider_id": "sso",
        "name": env("OIDC_PROVIDER_NAME", "") or "Single sign-on",
        "client_id": OIDC_CLIENT_ID,
        "secret": env("OIDC_CLIENT_SECRET", ""),
        "settings": {"server_url": OIDC_ISSUER_URL, "match_claim": OIDC_MATCH_CLAIM,
                     "external_id_claim": env("OIDC_EXTERNAL_ID_CLAIM", "") or "sub"},
    }]}
# Rate limits count in the cache: shared through Redis when there is one.
CACHES = {"default": (
    {"BACKEND": "django.core.cache.backends.redis.RedisCache",
     "LOCATION": env("REDIS_URL", ""), "KEY_PREFIX": "portal"}
    if env("REDIS_URL", "") else
    {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "portal"}
)}
# --- end of authentication ---

LANGUAGE_CODE = "en"
# The languages a person can choose; their emails use their choice, else LANGUAGE_CODE.
LANGUAGES = [("en", "English"), ("de", "Deutsch"), ("es", "Español"), ("fr", "Français"),
             ("nl", "Nederlands")]
TIME_ZONE = env("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True
FORMAT_MODULE_PATH = ["portal.formats"]

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)

# Email: EMAIL_URL (smtp://user:pass@host:port, or console://) or EMAIL_HOST / EMAIL_PORT.
# An SMTP server that accepts the connection and stops answering must not hold a worker.
EMAIL_TIMEOUT = int(env("EMAIL_TIMEOUT", "10"))
EMAIL_URL = env("EMAIL_URL", "")
if EMAIL_URL:
    _mail = urlsplit(EMAIL_URL)
    if _mail.scheme == "console":
        EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
    else:
        EMAIL_HOST = _mail.hostname or "localhost"
        EMAIL_PORT = _mail.port or 25
        EMAIL_HOST_USER = _mail.username or ""
        EMAIL_HOST_PASSWORD = _mail.password or ""
        EMAIL_USE_TLS = _mail.scheme == "smtp+tls"
elif env("EMAIL_HOST"):
    EMAIL_HOST = env("EMAIL_HOST")
    EMAIL_PORT = int(env("EMAIL_PORT", "25"))
    EMAIL_HOST_USER = env("EMAIL_HOST_USER", "")
    EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", "")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS")
else:
    # With no mail server configured, mail is written to files under var/mail.
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = VAR_DIR / "mail"
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "My Access <no-reply@access.example>")

# Celery: Redis when REDIS_URL is set, otherwise kombu's filesystem transport (no server).
REDIS_URL = env("REDIS_URL", "")
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    # Publishing happens after a commit, often inside a web request: with Redis away, give up
    # within a couple of seconds (the minute sweeps find the work) instead of retrying.
    # A message a worker took and never acknowledged (the worker was killed) goes back to
    # the queue after visibility_timeout seconds; kombu's default is an hour. Every task is
    # safe to run twice, so a short window costs at most a repeated run.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"max_retries": 1, "interval_start": 0,
                                       "socket_connect_timeout": 2,
                                       "visibility_timeout": int(env(
                                           "CELERY_VISIBILITY_TIMEOUT", "300"))}
else:
    _queue_dir = VAR_DIR / "broker"
    for _sub in ("queue", "processed", "control"):
        (_queue_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir / "queue"),
        "data_folder_out": str(_queue_dir / "queue"),
        "processed_folder": str(_queue_dir / "processed"),
        "control_folder": str(_queue_dir / "control"),
        "store_processed": False,
    }
CELERY_TASK_DEFAULT_QUEUE = env("CELERY_QUEUE", "portal")
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A lost publish is not lost work: the minute sweeps pick it up from the database.
CELERY_TASK_PUBLISH_RETRY = False
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE = {
    name: {"task": f"governance.tasks.{name}", "schedule": 60.0}
    for name in (
        "sweep_approvals",
        "sweep_expirations",
        "sweep_deliveries",
        "sweep_outbox",
        "sweep_guests",
        "sweep_bulk_assignments",
        "sweep_reviews",
        "sweep_automatic_policies",
    )
}

# Connectors (SCIM, Microsoft Graph, custom extensions) check TLS certificates against the
# system's CAs, or against this bundle (a PEM file) when it is set.
CONNECTOR_CA_BUNDLE = env("CONNECTOR_CA_BUNDLE", "") or True

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "governance.api.authentication.BearerTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["governance.api.permissions.HasGraphPermission"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "EXCEPTION_HANDLER": "governance.api.errors.graph_exception_handler",
}

# The OpenAPI document (/api/openapi.json, /api/docs/): GraphViews are described from what
# they declare (governance.api.schema), other DRF views as drf-spectacular does; only /v1.0/.
REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"] = "governance.api.schema.GraphAutoSchema"
SPECTACULAR_SETTINGS = {
    "TITLE": "Access portal API (Microsoft Graph dialect)",
    "VERSION": "v1.0",
    "DESCRIPTION": "Entitlement management in Microsoft Graph v1.0's paths and JSON.",
    "SCHEMA_PATH_PREFIX": r"/v1\.0",
    "PREPROCESSING_HOOKS": ["governance.api.schema.only_graph_paths"],
    "SERVE_INCLUDE_SCHEMA": False,
}

# Every logger (Django's unhandled exceptions, Celery, ours) writes one line with its time,
# level and source to standard error.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"line": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "line"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {"governance": {"level": env("LOG_LEVEL", "INFO")}},
}
