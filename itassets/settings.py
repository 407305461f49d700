"""itassets settings: one module, every deployment difference comes from the environment.

Embedded defaults (nothing set): SQLite under var/, local-memory cache, Celery tasks run
eagerly, files under var/media. Production sets DATABASE_URL, REDIS_URL, MINIO_* and
SECRET_KEY (see deploy/.env.example).
"""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
# Variables already in the environment win over the file. ENV_FILE points elsewhere (or at a
# file that does not exist, to read none: the settings tests do that).
ENV_FILE = Path(env.str("ENV_FILE", default=str(BASE_DIR / ".env")))
if ENV_FILE.is_file():
    environ.Env.read_env(ENV_FILE, overwrite=False)

DEBUG = env.bool("DEBUG", default=False)

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set the SECRET_KEY environment variable "
            "(for example: python -c 'import secrets; print(secrets.token_urlsafe(50))'), "
            "or set DEBUG=true for local development."
        )
    SECRET_KEY = "insecure-development-only-key-never-used-when-debug-is-false"  # noqa: S105

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")
ORGANISATION_NAME = env.str("ORGANISATION_NAME", default="示例单位")

INSTALLED_APPS = [
    "itassets.apps.ItassetsAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "template_partials",
    "django_prometheus",
    "django_celery_beat",
    "django_filters",
    "treebeard",
    "simple_history",
    "axes",
    "itassets",
    "assets",
    "inventory",
    "notifications",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "itassets.logging.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "itassets.middleware.LanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "axes.middleware.AxesMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "itassets.urls"
WSGI_APPLICATION = "itassets.wsgi.application"

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
                "itassets.context_processors.site",
            ],
        },
    }
]

# --- Database -------------------------------------------------------------------------------
VAR_DIR.mkdir(exist_ok=True)
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'itassets.sqlite3'}")
}
DB_IS_MYSQL = DATABASES["default"]["ENGINE"] == "django.db.backends.mysql"
if DB_IS_MYSQL:
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "charset": "utf8mb4",
            "init_command": "SET sql_mode='STRICT_TRANS_TABLES,NO_ZERO_DATE,"
            "NO_ZERO_IN_DATE,ERROR_FOR_DIVISION_BY_ZERO', time_zone='+00:00'",
            "isolation_level": "read committed",
            "connect_timeout": env.int("DATABASE_CONNECT_TIMEOUT", default=5),
        }
    )
    DATABASES["default"]["TEST"] = {"CHARSET": "utf8mb4", "COLLATION": "utf8mb4_unicode_ci"}
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
else:
    DATABASES["default"].setdefault("OPTIONS", {}).update({"timeout": 20})

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache and Celery -----------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "itassets",
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                "SOCKET_CONNECT_TIMEOUT": 2,
                "SOCKET_TIMEOUT": 2,
            },
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "memory://")
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=REDIS_URL or None) or None
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = "Asia/Shanghai"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# --- Files ----------------------------------------------------------------------------------
MINIO_ENDPOINT = env.str("MINIO_ENDPOINT", default="")
MINIO_SECURE = env.bool("MINIO_SECURE", default=True)
MINIO_BUCKET = env.str("MINIO_BUCKET", default="itassets")
# Lifetime of the presigned URLs that the attachment views redirect to.
MINIO_URL_EXPIRE_SECONDS = env.int("MINIO_URL_EXPIRE_SECONDS", default=300)
MEDIA_ROOT = env.path("MEDIA_ROOT", default=str(VAR_DIR / "media"))
MEDIA_URL = "/media/"
STATIC_ROOT = env.path("STATIC_ROOT", default=str(VAR_DIR / "static"))
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]

if MINIO_ENDPOINT:
    _endpoint = MINIO_ENDPOINT
    if "://" not in _endpoint:
        _endpoint = ("https://" if MINIO_SECURE else "http://") + _endpoint
    DEFAULT_STORAGE = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "endpoint_url": _endpoint,
            "access_key": env.str("MINIO_ACCESS_KEY"),
            "secret_key": env.str("MINIO_SECRET_KEY"),
            "bucket_name": MINIO_BUCKET,
            "region_name": env.str("MINIO_REGION", default="us-east-1"),
            "addressing_style": "path",
            "signature_version": "s3v4",
            "default_acl": None,
            "querystring_auth": True,
            "querystring_expire": MINIO_URL_EXPIRE_SECONDS,
            "file_overwrite": False,
            "use_ssl": _endpoint.startswith("https://"),
        },
    }
    # The address browsers use for the presigned download links when MINIO_ENDPOINT is an
    # internal name (compose, Kubernetes): see itassets/storages.py and deploy/nginx.
    MINIO_PUBLIC_ENDPOINT = env.str("MINIO_PUBLIC_ENDPOINT", default="").rstrip("/")
    if MINIO_PUBLIC_ENDPOINT:
        DEFAULT_STORAGE["BACKEND"] = "itassets.storages.PublicUrlS3Storage"
        DEFAULT_STORAGE["OPTIONS"]["public_endpoint_url"] = MINIO_PUBLIC_ENDPOINT
else:
    DEFAULT_STORAGE = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(MEDIA_ROOT), "base_url": MEDIA_URL},
    }
STORAGES = {
    "default": DEFAULT_STORAGE,
    "staticfiles": {
        # Hashed, compressed names in production (collectstatic at image build); plain
        # names when debugging and in tests (STATIC_MANIFEST=false), which skip collectstatic.
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if env.bool("STATIC_MANIFEST", default=not DEBUG)
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
UPLOAD_MAX_BYTES = env.int("UPLOAD_MAX_BYTES", default=20 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
# Bulk actions post one field per selected asset (labels: up to LABEL_MAX_PER_REQUEST).
DATA_UPLOAD_MAX_NUMBER_FIELDS = 2500
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# --- Imports and exports (itassets/importing, docs/imports.md) ------------------------------
IMPORT_MAX_BYTES = env.int("IMPORT_MAX_BYTES", default=50 * 1024 * 1024)
IMPORT_MAX_ROWS = env.int("IMPORT_MAX_ROWS", default=200_000)
# A workbook is refused unopened (a zip bomb) past this unpacked size or compression ratio.
IMPORT_MAX_UNCOMPRESSED_BYTES = env.int("IMPORT_MAX_UNCOMPRESSED_BYTES", default=1024 * 1024 * 1024)
IMPORT_MAX_COMPRESSION_RATIO = env.int("IMPORT_MAX_COMPRESSION_RATIO", default=200)
# Write a simple-history "+" row for every asset an import creates (the "import" event is the
# creation record either way); off by default: it costs 40 % of the import's write time.
IMPORT_HISTORY_ON_CREATE = False
# MySQL/MariaDB: write each validated chunk on a writer thread (one transaction, committed
# only if the whole file is valid) while the next chunks are validated. docs/imports.md
IMPORT_STREAM_WRITES = env.bool("IMPORT_STREAM_WRITES", default=True)
# Exports up to this many rows download at once; larger ones run as a background job.
EXPORT_SYNC_MAX_ROWS = env.int("EXPORT_SYNC_MAX_ROWS", default=20_000)

# --- Auth -----------------------------------------------------------------------------------
# RolesModelBackend is Django's ModelBackend loading each request's user with their roles and
# person in one query, or from the cached auth snapshot (itassets/auth.py).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "itassets.auth.RolesModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 8},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Each request's user, roles, person and permissions come from a snapshot in the cache while
# no user, group, permission or person has changed since (itassets/auth.py); at most this old.
AUTH_SNAPSHOT_SECONDS = env.int("AUTH_SNAPSHOT_SECONDS", default=300)
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# django-axes: 5 failures for one username from one address lock that pair for 15 minutes.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_HOURS", default=0.25)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/lockout.html"
# The client address comes from itassets.net.client_ip, which trusts X-Forwarded-For only as
# far as PROXY_COUNT reverse proxies (nginx, ingress) go; 0 = REMOTE_ADDR only.
PROXY_COUNT = env.int("PROXY_COUNT", default=0)
AXES_CLIENT_IP_CALLABLE = "itassets.net.client_ip"
AXES_VERBOSE = False

# --- Internationalisation -------------------------------------------------------------------
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

# --- Security -------------------------------------------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=12 * 3600)
# Sessions are read from the cache (Redis; in-process without REDIS_URL) and written through
# to the database: a signed-in request costs no session query. /ready already needs Redis.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the page, not the cookie
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
USE_X_FORWARDED_HOST = env.bool("USE_X_FORWARDED_HOST", default=False)
if not DEBUG:
    SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=True)
    CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=True)
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
    if not SECURE_HSTS_PRELOAD:
        # Preloading is the registrable domain owner's decision (it binds every subdomain for
        # months and an intranet host cannot be preloaded anyway), not this application's.
        SILENCED_SYSTEM_CHECKS = ["security.W021"]
    # /health and /ready are probed over plain HTTP inside the cluster.
    SECURE_REDIRECT_EXEMPT = [r"^health$", r"^ready$", r"^metrics$"]

# --- Operations -----------------------------------------------------------------------------
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
METRICS_ALLOWED_IPS = env.list("METRICS_ALLOWED_IPS", default=["127.0.0.1", "::1"])
READY_CHECK_TIMEOUT = env.float("READY_CHECK_TIMEOUT", default=2.0)
PROMETHEUS_EXPORT_MIGRATIONS = False

LOG_FORMAT = env.str("LOG_FORMAT", default="text")
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "itassets.logging.RequestIdFilter"}},
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {"()": "itassets.logging.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "filters": ["request_id"],
            "formatter": "json" if LOG_FORMAT == "json" else "text",
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "django.db.backends": {"level": "INFO"},
        "axes": {"level": "WARNING"},
    },
}

# --- Mail -----------------------------------------------------------------------------------
EMAIL_BACKEND = env.str(
    "EMAIL_BACKEND",
    default="django.core.mail.backends.smtp.EmailBackend"
    if env.str("SMTP_HOST", default="")
    else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_HOST = env.str("SMTP_HOST", default="localhost")
EMAIL_PORT = env.int("SMTP_PORT", default=25)
EMAIL_HOST_USER = env.str("SMTP_USER", default="")
EMAIL_HOST_PASSWORD = env.str("SMTP_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("SMTP_USE_TLS", default=False)
EMAIL_USE_SSL = env.bool("SMTP_USE_SSL", default=False)
EMAIL_TIMEOUT = 10
DEFAULT_FROM_EMAIL = env.str("SMTP_FROM", default="itassets@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Notifications (notifications/conf.py has the defaults) ------------------------------------
# Global group robots; per-department robots are configured in the admin.
DINGTALK_WEBHOOK_URL = env.str("DINGTALK_WEBHOOK_URL", default="")
DINGTALK_SECRET = env.str("DINGTALK_SECRET", default="")
WECOM_WEBHOOK_URL = env.str("WECOM_WEBHOOK_URL", default="")
FEISHU_WEBHOOK_URL = env.str("FEISHU_WEBHOOK_URL", default="")
FEISHU_SECRET = env.str("FEISHU_SECRET", default="")
NOTIFY_WEBHOOK_URL = env.str("NOTIFY_WEBHOOK_URL", default="")
NOTIFY_WEBHOOK_SECRET = env.str("NOTIFY_WEBHOOK_SECRET", default="")
NOTIFICATIONS_TIMEOUT = env.float("NOTIFICATIONS_TIMEOUT", default=5.0)
NOTIFICATIONS_MAX_ATTEMPTS = env.int("NOTIFICATIONS_MAX_ATTEMPTS", default=5)
NOTIFICATIONS_RETRY_BASE_SECONDS = env.float("NOTIFICATIONS_RETRY_BASE_SECONDS", default=60)
NOTIFICATIONS_BEAT_SILENT_SECONDS = env.int("NOTIFICATIONS_BEAT_SILENT_SECONDS", default=7200)
NOTIFICATIONS_WORKER_SILENT_SECONDS = env.int("NOTIFICATIONS_WORKER_SILENT_SECONDS", default=600)

# --- Asset register -------------------------------------------------------------------------
ASSET_TAG_PATTERN = env.str("ASSET_TAG_PATTERN", default="IT-{yyyy}-{seq:06d}")
# QR labels: a TrueType CJK font (reportlab cannot use the CFF-based Noto CJK .ttc).
# Debian package fonts-wqy-zenhei; LABEL_FONT_INDEX picks the face inside a .ttc collection.
LABEL_FONT_PATH = env.str("LABEL_FONT_PATH", default="/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")
LABEL_FONT_INDEX = env.int("LABEL_FONT_INDEX", default=0)
LABEL_MAX_PER_REQUEST = 1000

# --- Asset lifecycle: approvals and self-service ----------------------------------------------
# The steps of a disposal / loss approval, in order: role slugs from itassets.roles
# ("dept_head": the head of the asset's department; "clerk": any asset clerk).
# APPROVAL_STEPS=clerk makes it one step.
APPROVAL_STEPS = env.list("APPROVAL_STEPS", default=["dept_head", "clerk"])
# Assignments whose handover receipt is not confirmed after this many days are listed for clerks.
ASSIGNMENT_CONFIRM_DAYS = env.int("ASSIGNMENT_CONFIRM_DAYS", default=3)

ADMIN_SITE_HEADER = _("IT Asset Management Admin")
