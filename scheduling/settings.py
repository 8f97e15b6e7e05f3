"""Settings, read once from the environment (see .env.example for every variable)."""

import datetime
import os
import tempfile
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from scheduling import cache_config

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set it in the environment (or .env), or set DEBUG=true "
            "for local development."
        )
    SECRET_KEY = "django-insecure-development-only-key-do-not-use-in-production"

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "csp",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_tasks",
    "django_tasks_db",
    "scheduling",
    "vendors",
]

MIDDLEWARE = [
    "scheduling.observability.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "scheduling.content_policy.CSPMiddleware",
    "scheduling.headers.NoStoreMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "scheduling.language.LanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "scheduling.audit.AuditMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "scheduling.sessions.SessionExpiryMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "scheduling.urls"
WSGI_APPLICATION = "scheduling.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Databases: SQLite file by default; PostgreSQL with DATABASE_URL=postgres://…
DATABASES = {
    # An empty DATABASE_URL (as in .env.example) means the default too.
    "default": env.db_url_config(
        env.str("DATABASE_URL", default="") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}"
    ),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Django's, with one-row inserts compiled once (scheduling/inserts.py).
    DATABASES["default"]["ENGINE"] = "scheduling.sqlite"
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            # Every write transaction takes the write lock at BEGIN, so concurrent
            # bookings queue up instead of failing half-way with "database is locked".
            "transaction_mode": "IMMEDIATE",
            "timeout": env.int("SQLITE_BUSY_TIMEOUT_SECONDS", default=20),
            "init_command": (
                "PRAGMA journal_mode=WAL;"
                "PRAGMA synchronous=NORMAL;"
                "PRAGMA foreign_keys=ON;"
                f"PRAGMA busy_timeout={env.int('SQLITE_BUSY_TIMEOUT_SECONDS', default=20) * 1000};"
            ),
        }
    )
    # A file (not :memory:) so tests can open several connections to one database; one per
    # test process, so that two test runs never share it.
    DATABASES["default"].setdefault("TEST", {})["NAME"] = str(
        Path(tempfile.gettempdir()) / f"booking-desk-test-{os.getpid()}.sqlite3"
    )
else:
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        # Django's, reading timestamps with psycopg's C loader and compiling one-row inserts
        # once (scheduling/postgresql).
        DATABASES["default"]["ENGINE"] = "scheduling.postgresql"
    # A new connection is a new PostgreSQL backend: it plans each statement about eleven
    # times (five runs before psycopg prepares it, six custom plans before PostgreSQL keeps a
    # generic one) with its catalog caches cold: 1.5-12 ms a plan for a delivery's read under
    # `make loadtest`, 0.1-0.2 ms once settled. At 60 s each task worker thread's connection
    # was replaced every minute: the load test (30 s of load, 2 minutes of drain) opened 119
    # connections, 61 at 600 s.
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=600))
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
    if env.bool("DATABASE_SERVER_SIDE_BINDING", default=True):
        options = DATABASES["default"].setdefault("OPTIONS", {})
        options["server_side_binding"] = True
        # Django turns psycopg's prepared statements off; a statement run this many times on
        # a connection is prepared there, then planned once rather than on every run.
        options["prepare_threshold"] = env.int("DATABASE_PREPARE_THRESHOLD", default=5)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# django-axes first: it refuses a locked-out (username, address) before the password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

LANGUAGE_CODE = "en"
# The desk's languages (DESIGN §10): a user's own choice, else the clinic's, else the browser's.
LANGUAGES = [("en", "English"), ("es", "Español"), ("fr", "Français")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "desk:book"
LOGOUT_REDIRECT_URL = "login"

# Background work: Django's tasks API (django-tasks backport) on the database backend.
TASKS = {
    "default": {
        "BACKEND": env.str("TASKS_BACKEND", default="django_tasks_db.DatabaseBackend"),
        "QUEUES": ["default"],
    }
}

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = env.bool("SECURE_COOKIES", default=not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE

# Logs (scheduling.observability): plain text lines `LEVEL logger [request ID] message`, or
# with LOG_FORMAT=json one JSON object a line. Every line written while a request or a
# delivery attempt runs carries its request ID: the proxy's X-Request-ID when
# TRUST_REQUEST_ID_HEADER is on and it is a short safe token, else a new one; the response
# echoes it and the deliveries the request records keep it for their attempts.
LOG_FORMAT = env.str("LOG_FORMAT", default="text").strip().lower()
if LOG_FORMAT not in ("text", "json"):
    raise ImproperlyConfigured(f"LOG_FORMAT is {LOG_FORMAT!r}; set it to text or json.")
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO").upper()
TRUST_REQUEST_ID_HEADER = env.bool("TRUST_REQUEST_ID_HEADER", default=True)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "scheduling.observability.RequestIdFilter"}},
    "formatters": {
        "text": {"()": "scheduling.observability.TextFormatter"},
        "json": {"()": "scheduling.observability.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["request_id"],
            "formatter": LOG_FORMAT,
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Django's own console handler would write its lines a second time, unformatted.
        "django": {"handlers": [], "level": LOG_LEVEL},
        # SQL with its parameters (patient data) never, whatever LOG_LEVEL says.
        "django.db.backends": {"level": "INFO"},
        # urllib3 logs whole URLs at DEBUG, and a patient search at a PMS carries the patient's
        # values in its query: never in our logs, whatever LOG_LEVEL says.
        "urllib3": {"level": "WARNING"},
    },
}

# Booking rules
# A booking must start at least this many minutes from now.
BOOKING_MIN_NOTICE_MINUTES = env.int("BOOKING_MIN_NOTICE_MINUTES", default=0)

# PMS delivery
# Fernet key for the few vendor tokens that must be stored (default: derived from SECRET_KEY).
VENDOR_SECRETS_KEY = env.str("VENDOR_SECRETS_KEY", default="")
# How long a worker holds a delivery before another may take it back.
DELIVERY_LEASE_SECONDS = env.int("DELIVERY_LEASE_SECONDS", default=60)

# Reading the PMS's calendar (DESIGN §8)
# Seconds between two pulls of one connection's calendar (by the sweeper).
PMS_PULL_SECONDS = env.int("PMS_PULL_SECONDS", default=30)
# A calendar last read longer ago than this is stale: the desk warns that times may be taken.
PMS_STALE_SECONDS = env.int("PMS_STALE_SECONDS", default=300)
# How many days ahead the busy time is kept (a vendor with costly reads reads fewer).
PMS_PULL_DAYS = env.int("PMS_PULL_DAYS", default=60)
# How long a process holds a connection's pull before another may take it over.
PMS_PULL_LEASE_SECONDS = env.int("PMS_PULL_LEASE_SECONDS", default=120)

# /healthz (scheduling.health) says "degraded" once the oldest delivery still waiting to reach
# its PMS has waited longer than this (or a PMS calendar is stale, PMS_STALE_SECONDS).
HEALTHZ_DELIVERY_WAIT_SECONDS = env.int("HEALTHZ_DELIVERY_WAIT_SECONDS", default=300)

# REST API v1
API_TOKEN_DAYS = env.int("API_TOKEN_DAYS", default=30)
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "scheduling.api.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["scheduling.api.parsers.JSONBodyParser"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "scheduling.api.negotiation.JsonFirstNegotiation",
    "DEFAULT_PAGINATION_CLASS": "scheduling.api.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "scheduling.api.errors.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["scheduling.api.throttling.UserRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "user": env.str("API_THROTTLE_USER", default="1200/minute"),
        "anon": env.str("API_THROTTLE_ANON", default="60/minute"),
        "token": env.str("API_THROTTLE_TOKEN", default="20/minute"),
    },
    "UNAUTHENTICATED_USER": None,
    # Trusted proxies in front of the app, so that throttling and sign-in lock-out see the
    # client's address (0: the connecting address; X-Forwarded-For is not trusted).
    "NUM_PROXIES": int(env.str("API_NUM_PROXIES", default="") or 0),
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Clinic booking desk API",
    "DESCRIPTION": "REST API v1 for mobile apps: the receptionist's job over JSON.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {"ModalityEnum": "scheduling.models.modality.Modality"},
}

# --- Vendor connections: which secrets and hosts a connection may name (DESIGN §9) ---
# A connection names the environment variables holding its PMS credentials; it may only name
# those starting with this prefix (empty: none by prefix) or listed in VENDOR_SECRET_ENV_NAMES
# (comma-separated). This server's own settings (SECRET_KEY, DATABASE_URL…) never qualify.
VENDOR_SECRET_ENV_PREFIX = env.str("VENDOR_SECRET_ENV_PREFIX", default="PMS_")
VENDOR_SECRET_ENV_NAMES = env.list("VENDOR_SECRET_ENV_NAMES", default=[])
# Hosts a connection may reach besides each vendor's documented production hosts (https only):
# comma-separated "host" (its default port) or "host:port" entries, for vendor sandboxes and
# local simulators. Listed hosts may use http and private or loopback addresses.
VENDOR_ALLOWED_HOSTS = env.list("VENDOR_ALLOWED_HOSTS", default=[])

# --- Sign-in, sessions, two-factor and the shared cache (DESIGN §9) ---
# The cache every process shares (API throttles, sign-in lock-out): the database by default
# (table django_cache, made by migrate); Redis with CACHE_URL=redis://host:6379/0.
CACHES = {"default": cache_config.from_url(env.str("CACHE_URL", default=""))}
# How long a free-slot answer is kept in that cache (scheduling.slot_cache: every booking,
# cancel, schedule change and PMS read drops the answers it touches); 0, the default: never.
# Off because it did not pay under `make loadtest` (see the module's docstring); worth trying
# where many more searches than bookings hit the same practitioners and days.
AVAILABILITY_CACHE_SECONDS = env.int("AVAILABILITY_CACHE_SECONDS", default=0)
# Deployments sharing one Redis database keep apart by prefix (a ?key_prefix= in CACHE_URL is
# not read: django-environ passes it on in a case Django ignores).
if env.str("CACHE_KEY_PREFIX", default=""):
    CACHES["default"]["KEY_PREFIX"] = env.str("CACHE_KEY_PREFIX")

# Lock-out (django-axes, scheduling.signin): SIGN_IN_FAILURE_LIMIT failed sign-ins for one
# username from one address within SIGN_IN_LOCKOUT_MINUTES lock that pair out for
# SIGN_IN_LOCKOUT_MINUTES, on the desk, the admin and the API alike, even with the right
# password. Counted in the shared cache; further attempts do not extend the lock-out.
AXES_FAILURE_LIMIT = env.int("SIGN_IN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = datetime.timedelta(minutes=env.int("SIGN_IN_LOCKOUT_MINUTES", default=30))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_HANDLER = "axes.handlers.cache.AxesCacheHandler"
AXES_RESET_ON_SUCCESS = True
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_CALLABLE = "scheduling.signin.lockout_response"
AXES_HTTP_RESPONSE_CODE = 429
# The client's address: the API throttles' rule, API_NUM_PROXIES hops back (REST_FRAMEWORK
# above). Not ipware's own count, which expects the proxies' addresses in X-Forwarded-For and
# finds no address without the header; kept equal for anything that does read it.
AXES_CLIENT_IP_CALLABLE = "scheduling.clients.client_address"
AXES_IPWARE_PROXY_COUNT = REST_FRAMEWORK["NUM_PROXIES"]
# Attempts are in the cache, not in axes' tables: no empty admin pages for them.
AXES_ENABLE_ADMIN = False
# Lock-outs are logged by scheduling.signin, once each; no start-up banner on every command.
AXES_VERBOSE = False

# Sessions (scheduling.sessions): signed out after SESSION_IDLE_MINUTES without activity
# (pages warn a minute before) and SESSION_MAX_HOURS after signing in, whichever comes first;
# the cookie ends with the browser. A deactivated user's sessions and API tokens end at once.
SESSION_ENGINE = "scheduling.sessions"
SESSION_IDLE_MINUTES = env.int("SESSION_IDLE_MINUTES", default=15)
SESSION_MAX_HOURS = env.int("SESSION_MAX_HOURS", default=12)
SESSION_COOKIE_AGE = SESSION_MAX_HOURS * 60 * 60
SESSION_EXPIRE_AT_BROWSER_CLOSE = True

# Two-factor (django-otp, TOTP): the admin site lets in only staff verified by a TOTP code
# (scheduling/urls.py). Enrol with `manage.py add_totp_device <username>`, or a superuser
# adds a TOTP device in the admin (Django OTP › TOTP devices) and opens its QR code.
OTP_TOTP_ISSUER = "Clinic booking desk"

# --- Deployment: HTTPS, security headers, caching of patient data (DESIGN §9) ---
# HTTPS when DEBUG is off. Plain http:// is redirected to https://; set
# SECURE_SSL_REDIRECT=false when the proxy in front already does that (the app still learns the
# scheme from X-Forwarded-Proto, SECURE_PROXY_SSL_HEADER above).
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
# Load balancers probe the health checks over plain HTTP: they are never redirected.
SECURE_REDIRECT_EXEMPT = [r"^health/$", r"^healthz$"]
# HSTS: browsers use only HTTPS for this long (default one year when DEBUG is off; 0 = no header),
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 365 * 24 * 60 * 60)
# for every subdomain too (false if another site under this domain still needs plain HTTP),
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
# and the domain consents to browsers' preload lists (it takes effect only if the registrable
# domain itself sends it and is submitted at hstspreload.org).
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=SECURE_HSTS_INCLUDE_SUBDOMAINS)

# Content-Security-Policy (django-csp): scripts, styles and everything else from our own
# origin only, never inline; images may also be data: URLs; no plugins; never in a frame;
# forms post back to us only. htmx injects no indicator <style> (htmx-config in
# templates/base.html); the Swagger UI page has no inline script or style either
# (scheduling/api/docs.py).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    },
}
# Cache-Control: no-store on every response but static files: scheduling.headers.

# The API's schema and Swagger UI (/api/v1/schema/, /api/v1/docs/): for anyone when true;
# otherwise for signed-in users only (session or token).
API_DOCS_PUBLIC = env.bool("API_DOCS_PUBLIC", default=False)
# Swagger UI's validator badge would send the schema's address to validator.swagger.io (and
# load an image the policy above refuses).
SPECTACULAR_SETTINGS.setdefault("SWAGGER_UI_SETTINGS", {"deepLinking": True})["validatorUrl"] = None

# --- Audit trail (DESIGN §9) ---
# scheduling.audit: who viewed, created, changed or cancelled patients and appointments, and
# sign-ins, failures, lock-outs, API tokens and PMS connection changes, in AuditEvent rows
# (append-only; shown in the admin and on the appointment page to managers). AuditMiddleware
# (in MIDDLEWARE, after AuthenticationMiddleware) writes a request's rows with one insert when
# the response is ready. The client address recorded is the one the API's throttling sees
# (REST_FRAMEWORK["NUM_PROXIES"] above). Nothing to configure.
