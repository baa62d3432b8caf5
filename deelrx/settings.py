"""DeelRx back office settings.

One module, configured from the environment with django-environ. Every
variable is optional: unset, the embedded defaults of a bare machine apply
(SQLite under var/, two file stores under var/storage/, eager Celery, console
email). With DJANGO_DEBUG off the settings are treated as production and a
missing or malformed value fails at start with a message naming the variable.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import environ
from csp.constants import NONCE as CSP_NONCE
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()


def _read(name: str, reader, **kwargs):
    """Read one variable, turning a malformed value into an error that names it."""
    try:
        return reader(name, **kwargs)
    except ImproperlyConfigured:
        raise
    except Exception as exc:  # environ raises ValueError, KeyError, … for bad values
        raise ImproperlyConfigured(f"{name} is malformed: {exc}") from exc


_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off", ""}


def _strict_bool(name: str, default: bool) -> bool:
    """env.bool treats any unknown word as false; a typo must not silently flip a switch."""
    value = env.str(name, default=str(default)).strip().lower()
    if value not in _TRUE | _FALSE:
        raise ImproperlyConfigured(f"{name} is malformed: expected true or false, got {value!r}")
    return value in _TRUE


DEBUG = _strict_bool("DJANGO_DEBUG", default=False)

SECRET_KEY = _read("DJANGO_SECRET_KEY", env.str, default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is required when DJANGO_DEBUG is off (set DJANGO_DEBUG=true for local development)."
        )
    SECRET_KEY = "insecure-development-key-do-not-use-in-production-0123456789"

ALLOWED_HOSTS = _read("DJANGO_ALLOWED_HOSTS", env.list, default=["localhost", "127.0.0.1", "[::1]"])
# Absolute links in emails (jobs have no request to build them from).
SITE_URL = _read("SITE_URL", env.str, default="http://127.0.0.1:8000").rstrip("/")
CSRF_TRUSTED_ORIGINS = _read("DJANGO_CSRF_TRUSTED_ORIGINS", env.list, default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "csp",
    "axes",
    "anymail",
    "channels",
    "deelrx",
    "deelrx.tenancy",
    "deelrx.audit",
    "deelrx.jobs",
    "admin_ops",
    "credit",
    "knowledge_base",
    "notifications",
    "reports",
]

MIDDLEWARE = [
    "deelrx.middleware.RequestContextMiddleware",
    # Before sessions and authentication read the cookies and headers (deelrx.input_guard).
    "deelrx.input_guard.InputGuardMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "deelrx.security.PermissionsPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "deelrx.tenancy.middleware.CurrentTeamMiddleware",
    # After authentication: turns django-axes' lockout into the 429 answer (deelrx.tenancy.auth).
    "axes.middleware.AxesMiddleware",
    # Stores the searches a view noted, after the response is sent (deelrx.searches).
    "deelrx.searches.SearchRecordingMiddleware",
]

ROOT_URLCONF = "deelrx.urls"
WSGI_APPLICATION = "deelrx.wsgi.application"
# HTTP and WebSocket (DESIGN §13): deelrx/asgi.py, served by uvicorn.
ASGI_APPLICATION = "deelrx.asgi.application"

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
                "deelrx.tenancy.context_processors.current_team",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------
DATABASES = {"default": _read("DATABASE_URL", env.db_url, default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] not in ("django.db.backends.postgresql", "django.db.backends.sqlite3"):
    raise ImproperlyConfigured("DATABASE_URL is malformed: use postgres://… or sqlite:///…")
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"].setdefault("CONN_MAX_AGE", 60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USING_POSTGRES = DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"

AUTH_USER_MODEL = "tenancy.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# django-axes first: it refuses a locked-out username or ip before any password is checked.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
# Lockout (deelrx.tenancy.auth): LOGIN_FAILURE_LIMIT failures per username or per client ip lock that
# username or ip for LOGIN_COOLOFF_MINUTES; a success resets the count; admins unlock sooner.
AXES_FAILURE_LIMIT = _read("LOGIN_FAILURE_LIMIT", env.int, default=5)
AXES_COOLOFF_TIME = timedelta(minutes=_read("LOGIN_COOLOFF_MINUTES", env.int, default=15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "deelrx.tenancy.auth.lockout_response"
AXES_CLIENT_IP_CALLABLE = "deelrx.middleware.client_ip"  # the audit log's ip, one rule for both
AXES_VERBOSE = False
PASSWORD_RESET_TIMEOUT = 60 * 60 * 24  # a reset link works for a day (Django's default is three)
PASSWORD_RESET_PER_IP_PER_HOUR = _read("PASSWORD_RESET_PER_IP_PER_HOUR", env.int, default=10)
PASSWORD_RESET_PER_EMAIL_PER_HOUR = _read("PASSWORD_RESET_PER_EMAIL_PER_HOUR", env.int, default=3)
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Cache and Celery -----------------------------------------------------------
REDIS_URL = _read("REDIS_URL", env.str, default="")
if REDIS_URL and not REDIS_URL.startswith(("redis://", "rediss://", "unix://")):
    raise ImproperlyConfigured("REDIS_URL is malformed: use redis://host:port/db")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "deelrx.cache.RedisCache",
            "LOCATION": REDIS_URL,
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# WebSocket groups across processes through Redis; in one process (`make run` on a bare machine) in memory.
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            # channels-redis whose connection pool waits for a free connection (deelrx.realtime)
            "BACKEND": "deelrx.realtime.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "prefix": "deelrx:ws", "expiry": 60, "capacity": 500},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
# Read notifications are deleted this many days after they were read (admin-retention-enforce); unread ones stay.
NOTIFICATION_READ_RETENTION_DAYS = _read("NOTIFICATION_READ_RETENTION_DAYS", env.int, default=90)

CELERY_BROKER_URL = REDIS_URL or "memory://"
# Results live in Redis for a day so "run now" and tests can wait on a task.
CELERY_RESULT_BACKEND = REDIS_URL or None
CELERY_RESULT_EXPIRES = timedelta(days=1)
CELERY_TASK_ALWAYS_EAGER = _strict_bool("CELERY_TASK_ALWAYS_EAGER", default=not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 60 * 30
CELERY_TASK_SOFT_TIME_LIMIT = 60 * 25
# Longer than any countdown we use, so Redis never re-delivers a waiting task.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 60 * 60 * 6}
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = "UTC"

# --- Storage ------------------------------------------------------------------
UPLOAD_MAX_BYTES = _read("UPLOAD_MAX_BYTES", env.int, default=25 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

PRIVATE_STORAGE_BUCKET = _read("PRIVATE_STORAGE_BUCKET", env.str, default="")
PUBLIC_STORAGE_BUCKET = _read("PUBLIC_STORAGE_BUCKET", env.str, default="")
PRIVATE_STORAGE_ROOT = _read("PRIVATE_STORAGE_ROOT", env.path, default=str(VAR_DIR / "storage" / "private"))
PUBLIC_STORAGE_ROOT = _read("PUBLIC_STORAGE_ROOT", env.path, default=str(VAR_DIR / "storage" / "public"))
PUBLIC_MEDIA_URL = _read("PUBLIC_MEDIA_URL", env.str, default="/media/")
PRIVATE_URL_EXPIRY_SECONDS = _read("PRIVATE_URL_EXPIRY_SECONDS", env.int, default=300)

# --- Knowledge base jobs ---------------------------------------------------------
KB_LINK_CHECK_TIMEOUT = _read("KB_LINK_CHECK_TIMEOUT", env.float, default=10.0)
KB_LINK_CHECK_CONCURRENCY = _read("KB_LINK_CHECK_CONCURRENCY", env.int, default=8)
KB_LINK_CHECK_HOST_INTERVAL = _read("KB_LINK_CHECK_HOST_INTERVAL", env.float, default=1.0)
KB_LINK_CHECK_RETRIES = _read("KB_LINK_CHECK_RETRIES", env.int, default=2)
KB_LINK_CHECK_BACKOFF = _read("KB_LINK_CHECK_BACKOFF", env.float, default=1.0)
# Off by default so article links cannot make the server probe its own network.
KB_LINK_CHECK_ALLOW_PRIVATE = _strict_bool("KB_LINK_CHECK_ALLOW_PRIVATE", default=False)
KB_LINK_CHECK_MAX_RETRY_AFTER = _read("KB_LINK_CHECK_MAX_RETRY_AFTER", env.float, default=30.0)
KB_ORPHAN_GRACE_DAYS = _read("KB_ORPHAN_GRACE_DAYS", env.int, default=7)
# Older versions of an upload are pruned by admin-retention-enforce once older than this,
# except the newest 10 of each upload (DESIGN §15).
UPLOAD_VERSION_RETENTION_DAYS = _read("UPLOAD_VERSION_RETENTION_DAYS", env.int, default=90)
# Help-center abuse limits per client ip (anonymous readers have no session to count on).
KB_FEEDBACK_PER_IP_PER_HOUR = _read("KB_FEEDBACK_PER_IP_PER_HOUR", env.int, default=20)
KB_VIEWS_PER_IP_PER_ARTICLE_PER_HOUR = _read("KB_VIEWS_PER_IP_PER_ARTICLE_PER_HOUR", env.int, default=1)
# Upload processing (thumbnails, text extraction, OCR), run by a queued task after an upload is stored.
UPLOAD_PROCESSING_ENABLED = _strict_bool("UPLOAD_PROCESSING_ENABLED", default=True)
UPLOAD_PROCESSING_TIMEOUT_SECONDS = _read("UPLOAD_PROCESSING_TIMEOUT_SECONDS", env.int, default=120)
UPLOAD_PROCESSING_PAGE_TIMEOUT_SECONDS = _read("UPLOAD_PROCESSING_PAGE_TIMEOUT_SECONDS", env.int, default=30)
UPLOAD_PROCESSING_MAX_PAGES = _read("UPLOAD_PROCESSING_MAX_PAGES", env.int, default=20)
UPLOAD_PROCESSING_TEXT_MAX_CHARS = _read("UPLOAD_PROCESSING_TEXT_MAX_CHARS", env.int, default=100_000)
UPLOAD_THUMBNAIL_MAX_PX = 320
UPLOAD_OCR_LANGUAGES = _read("UPLOAD_OCR_LANGUAGES", env.str, default="eng")

AWS_ACCESS_KEY_ID = _read("AWS_ACCESS_KEY_ID", env.str, default=None)
AWS_SECRET_ACCESS_KEY = _read("AWS_SECRET_ACCESS_KEY", env.str, default=None)
AWS_S3_REGION_NAME = _read("AWS_S3_REGION_NAME", env.str, default="us-east-1")
AWS_S3_ENDPOINT_URL = _read("AWS_S3_ENDPOINT_URL", env.url, default=None)
if AWS_S3_ENDPOINT_URL is not None:
    if AWS_S3_ENDPOINT_URL.scheme not in ("http", "https") or not AWS_S3_ENDPOINT_URL.netloc:
        raise ImproperlyConfigured("AWS_S3_ENDPOINT_URL is malformed: use http(s)://host[:port]")
    AWS_S3_ENDPOINT_URL = AWS_S3_ENDPOINT_URL.geturl()
AWS_S3_CUSTOM_DOMAIN_PUBLIC = _read("AWS_S3_CUSTOM_DOMAIN_PUBLIC", env.str, default=None)


def build_storages(*, private_bucket: str, public_bucket: str) -> dict:
    """The STORAGES aliases: S3 when a bucket is named, the file system otherwise."""
    s3_common = {
        "access_key": AWS_ACCESS_KEY_ID,
        "secret_key": AWS_SECRET_ACCESS_KEY,
        "region_name": AWS_S3_REGION_NAME,
        "endpoint_url": AWS_S3_ENDPOINT_URL,
    }
    if private_bucket:
        private = {
            "BACKEND": "deelrx.storage.PrivateS3Storage",
            "OPTIONS": {
                **s3_common,
                "bucket_name": private_bucket,
                "querystring_expire": PRIVATE_URL_EXPIRY_SECONDS,
            },
        }
    else:
        private = {
            "BACKEND": "deelrx.storage.PrivateFileSystemStorage",
            "OPTIONS": {"location": str(PRIVATE_STORAGE_ROOT)},
        }
    if public_bucket:
        public = {
            "BACKEND": "deelrx.storage.PublicS3Storage",
            "OPTIONS": {
                **s3_common,
                "bucket_name": public_bucket,
                "custom_domain": AWS_S3_CUSTOM_DOMAIN_PUBLIC,
            },
        }
    else:
        public = {
            "BACKEND": "deelrx.storage.PublicFileSystemStorage",
            "OPTIONS": {"location": str(PUBLIC_STORAGE_ROOT), "base_url": PUBLIC_MEDIA_URL},
        }
    return {
        "default": private,
        "private": private,
        "public": public,
        "staticfiles": {
            "BACKEND": (
                "django.contrib.staticfiles.storage.StaticFilesStorage"
                if DEBUG
                else "whitenoise.storage.CompressedManifestStaticFilesStorage"
            )
        },
    }


STORAGES = build_storages(private_bucket=PRIVATE_STORAGE_BUCKET, public_bucket=PUBLIC_STORAGE_BUCKET)

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
WHITENOISE_USE_FINDERS = DEBUG

# --- Email --------------------------------------------------------------------
DEFAULT_FROM_EMAIL = _read("DEFAULT_FROM_EMAIL", env.str, default="DeelRx <no-reply@deelrx.test>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
RESEND_API_KEY = _read("RESEND_API_KEY", env.str, default="")
if RESEND_API_KEY:
    EMAIL_BACKEND = "anymail.backends.resend.EmailBackend"
    ANYMAIL = {"RESEND_API_KEY": RESEND_API_KEY}
elif "EMAIL_URL" in env:
    vars().update(_read("EMAIL_URL", env.email_url))
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"

# --- Stripe -------------------------------------------------------------------
STRIPE_SECRET_KEY = _read("STRIPE_SECRET_KEY", env.str, default="")
STRIPE_PUBLISHABLE_KEY = _read("STRIPE_PUBLISHABLE_KEY", env.str, default="")
STRIPE_WEBHOOK_SECRET = _read("STRIPE_WEBHOOK_SECRET", env.str, default="")
STRIPE_API_BASE = _read("STRIPE_API_BASE", env.str, default="")
STRIPE_MAX_RETRIES = _read("STRIPE_MAX_RETRIES", env.int, default=3)
STRIPE_RETRY_DELAY_SECONDS = _read("STRIPE_RETRY_DELAY_SECONDS", env.float, default=0.5)
# A running job refreshes its JobRun every JOB_HEARTBEAT_SECONDS; one silent for JOB_LOST_AFTER_SECONDS
# is marked failed ("worker lost").
JOB_HEARTBEAT_SECONDS = _read("JOB_HEARTBEAT_SECONDS", env.float, default=60.0)
JOB_LOST_AFTER_SECONDS = _read("JOB_LOST_AFTER_SECONDS", env.int, default=600)
# Outbound job email (deelrx.email) is paced to what the provider (Resend) accepts and retried with
# back-off. The CREDIT_* names are the variables' earlier names, still read.
EMAILS_PER_SECOND = _read(
    "EMAILS_PER_SECOND", env.float, default=_read("CREDIT_EMAILS_PER_SECOND", env.float, default=2.0)
)
EMAIL_RETRIES = _read("EMAIL_RETRIES", env.int, default=2)
EMAIL_RETRY_DELAY_SECONDS = _read(
    "EMAIL_RETRY_DELAY_SECONDS", env.float, default=_read("CREDIT_EMAIL_RETRY_DELAY_SECONDS", env.float, default=1.0)
)

# --- REST API -----------------------------------------------------------------
REST_FRAMEWORK = {
    # Token first so that unauthenticated requests get 401 with WWW-Authenticate.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "deelrx.api.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "deelrx.api.PagePagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    # Depth, size and text limits at the boundary (deelrx.input_guard).
    "DEFAULT_PARSER_CLASSES": [
        "deelrx.input_guard.JSONParser",
        "deelrx.input_guard.FormParser",
        "deelrx.input_guard.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "deelrx.api.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": _read("API_THROTTLE_ANON", env.str, default="120/min"),
        "user": _read("API_THROTTLE_USER", env.str, default="1200/min"),
        "auth_token": _read("API_THROTTLE_AUTH_TOKEN", env.str, default="10/min"),
    },
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"]
    + (["rest_framework.renderers.BrowsableAPIRenderer"] if DEBUG else []),
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "DATETIME_FORMAT": "%Y-%m-%dT%H:%M:%S.%fZ",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "DeelRx back office API",
    "DESCRIPTION": "Credit lines, knowledge base and administrative operations.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": "/api/",
    # Swagger UI assets are served by the app (whitenoise), never from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Several models have a "status"; give each choice set its own schema name.
    "ENUM_NAME_OVERRIDES": {
        "ArticleStatusEnum": "knowledge_base.models.KbArticle.Status",
        "PurgeStatusEnum": "admin_ops.models.PurgeOperation.Status",
    },
    # The error answers any operation can give (bad input, no token, throttled, …), documented once.
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "deelrx.api.schema_common_errors"],
}

# --- Tenancy ------------------------------------------------------------------
ACTIVITY_RETENTION_DAYS = _read("ACTIVITY_RETENTION_DAYS", env.int, default=365)
IDEMPOTENCY_KEY_TTL = timedelta(hours=_read("IDEMPOTENCY_KEY_TTL_HOURS", env.int, default=48))

# --- Security -----------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the page, not the cookie
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = _strict_bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
    # Only a local plain-HTTP stack (docker-compose on localhost) turns these off.
    SESSION_COOKIE_SECURE = _strict_bool("DJANGO_SECURE_COOKIES", default=True)
    CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
    # A year: what the preload list and the Mozilla Observatory ask for.
    SECURE_HSTS_SECONDS = _read("DJANGO_HSTS_SECONDS", env.int, default=60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
SECURE_REFERRER_POLICY = "same-origin"


def _websocket_origin(site_url: str) -> str:
    scheme, _, rest = site_url.partition("://")
    return f"{'wss' if scheme == 'https' else 'ws'}://{rest.split('/', 1)[0]}"


# Content-Security-Policy on every response (django-csp 4): scripts and styles from our origin or
# carrying the request's nonce (`{{ request.csp_nonce }}`); no inline handlers, no eval. Stripe.js is
# allowed only on the card form's page (deelrx.security.stripe_csp). Images and media may come from
# any https origin (the public store's bucket or CDN, images linked from articles).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'", CSP_NONCE],
        "style-src": ["'self'", CSP_NONCE],
        "img-src": ["'self'", "data:", "https:"],
        "media-src": ["'self'", "https:"],
        "font-src": ["'self'"],
        # 'self' covers same-origin ws:/wss: in CSP 3 browsers; older ones need the socket's origin named.
        "connect-src": ["'self'", _websocket_origin(SITE_URL)],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}
# Plain-HTTP health probes inside the private network (matched against the path without its leading "/").
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]

# --- Logging ------------------------------------------------------------------
LOG_LEVEL = _read("LOG_LEVEL", env.str, default="INFO")
LOG_FORMAT = _read("LOG_FORMAT", env.str, default="console" if DEBUG else "json")
from deelrx.logging import build_logging_config  # noqa: E402

LOGGING = build_logging_config(level=LOG_LEVEL, fmt=LOG_FORMAT)

SENTRY_DSN = _read("SENTRY_DSN", env.str, default="")
if SENTRY_DSN:
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    sentry_sdk.init(
        dsn=SENTRY_DSN,
        integrations=[DjangoIntegration(), CeleryIntegration()],
        traces_sample_rate=_read("SENTRY_TRACES_SAMPLE_RATE", env.float, default=0.0),
        send_default_pii=False,
    )
CSRF_FAILURE_VIEW = "deelrx.views.csrf_failure"
