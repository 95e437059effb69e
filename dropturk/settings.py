"""Settings, read from the environment once, with embedded defaults.

The defaults give a working single machine set-up (``make run``): SQLite, a local
folder for encrypted blobs, a broker that needs no server (kombu's filesystem
transport). Production sets the variables listed in the README's configuration
table. Every environment variable the project reads is read here and only here.
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def _env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def _env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


# Where the embedded defaults keep their state: the SQLite file, the local blob
# folder and the filesystem broker. Holds ciphertext only, never plain images.
DATA_DIR = Path(os.environ.get("DROPTURK_DATA_DIR", BASE_DIR / "var"))

# Key material is kept outside the repository and outside DATA_DIR, so that copying
# the data folder does not copy the key that opens it.
_config_home = Path(os.environ.get("XDG_CONFIG_HOME", Path.home() / ".config"))
SECRETS_DIR = Path(os.environ.get("DROPTURK_SECRETS_DIR", _config_home / "dropturk"))

DEBUG = _env_bool("DJANGO_DEBUG", False)
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")  # filled below when empty
ALLOWED_HOSTS = _env_list("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
CSRF_TRUSTED_ORIGINS = _env_list("DJANGO_CSRF_TRUSTED_ORIGINS", "")
# Reverse proxies in front of the app (the TLS terminator): their X-Forwarded-For and
# X-Forwarded-Proto are trusted only when this says how many there are.
TRUSTED_PROXY_COUNT = int(os.environ.get("DJANGO_TRUSTED_PROXY_COUNT", "0"))

INSTALLED_APPS = [
    "accounts.apps.DropTurkAdminConfig",  # django.contrib.admin behind allauth + MFA
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",  # allauth's passkey list uses it
    "rest_framework",
    "drf_spectacular",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "allauth.usersessions",
    "axes",
    "csp",
    "audit",
    "accounts",
    "annotations",
    "ocr_bridge",
    "exports",
    "quality",
    "dropturk",  # the project's own commands (seed_demo wires every app)
]

MIDDLEWARE = [
    # First: every audit event of the request carries its id and client IP.
    "audit.context.RequestContextMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "dropturk.csp.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.middleware.SessionTimeoutMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "accounts.middleware.MfaRequiredMiddleware",
    # Last, as django-axes asks: turns a locked-out sign-in into its 429 page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "dropturk.urls"
WSGI_APPLICATION = "dropturk.wsgi.application"

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
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{DATA_DIR / 'dropturk.sqlite3'}"),
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "60")),
    )
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    # The web process and the workers write to the same file. IMMEDIATE transactions
    # take the write lock at BEGIN and wait for it (timeout), instead of failing with
    # "database is locked" when a reader tries to upgrade; WAL lets readers go on.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        timeout=20,
        transaction_mode="IMMEDIATE",
        init_command="PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    )
    DATABASES["default"]["CONN_MAX_AGE"] = 0
elif DATABASES["default"]["ENGINE"].endswith("postgresql"):
    # No JIT compilation: the app's statements are short, and PostgreSQL compiles anew at
    # every execution of a plan whose estimated cost passes jit_above_cost. The lease's
    # plan does (its LIMIT is computed, so the planner costs a tenth of the queue): 750 ms
    # of compiling for a 0.1 ms statement, seen at 1M tasks.
    database_options = DATABASES["default"].setdefault("OPTIONS", {})
    database_options["options"] = f"{database_options.get('options', '')} -c jit=off".strip()

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

AUTHENTICATION_BACKENDS = [
    # First: refuses every sign-in of a locked-out username+IP, even the right password.
    "axes.backends.AxesStandaloneBackend",
    # Django's username + password check; the signed-in user is read from the cache.
    "accounts.backends.CachedModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
# Serve app static files (admin, allauth) without a collectstatic step on a laptop.
WHITENOISE_USE_FINDERS = True
STATICFILES_DIRS = [BASE_DIR / "frontend"]

# --- Storage: ciphertext only. S3 when S3_BUCKET is set, a local folder otherwise.
S3_BUCKET = os.environ.get("S3_BUCKET", "")
if S3_BUCKET:
    _donation_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": S3_BUCKET,
            "endpoint_url": os.environ.get("S3_ENDPOINT_URL") or None,
            "region_name": os.environ.get("S3_REGION", "us-east-1"),
            "signature_version": "s3v4",
            "default_acl": None,
            "querystring_auth": False,
            "file_overwrite": True,
            # Defence in depth: our own AES-GCM layer is what protects the bytes;
            # the bucket's server-side encryption is asked for as well.
            "object_parameters": {
                "ServerSideEncryption": os.environ.get("S3_SSE", "AES256"),
                "ContentType": "application/octet-stream",
            },
        },
    }
else:
    _donation_storage = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {
            "location": DATA_DIR / "blobs",
            "allow_overwrite": True,
            "file_permissions_mode": 0o600,
            "directory_permissions_mode": 0o700,
        },
    }
# The audit trail's anchors and archives (audit/anchors.py, audit/archive.py): apart from
# the database, so that whoever can rewrite the database cannot also rewrite these. In S3
# (AUDIT_S3_BUCKET, default S3_BUCKET under the prefix audit/) each object can be put
# under Object Lock for AUDIT_OBJECT_LOCK_DAYS (the bucket must have Object Lock enabled).
AUDIT_OBJECT_LOCK_DAYS = int(os.environ.get("AUDIT_OBJECT_LOCK_DAYS", "0"))
AUDIT_S3_BUCKET = os.environ.get("AUDIT_S3_BUCKET", S3_BUCKET)
if AUDIT_S3_BUCKET:
    _audit_storage = {
        "BACKEND": "audit.storage.AuditS3Storage",
        "OPTIONS": {
            **_donation_storage["OPTIONS"],
            "bucket_name": AUDIT_S3_BUCKET,
            "location": "audit",
            "file_overwrite": False,
            "object_parameters": {"ContentType": "application/octet-stream"},
        },
    }
else:
    _audit_storage = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {
            "location": DATA_DIR / "audit",
            "file_permissions_mode": 0o400,  # written once
            "directory_permissions_mode": 0o700,
        },
    }
# Retention: with AUDIT_RETENTION_DAYS set, a daily task archives older events (0: keep all).
AUDIT_RETENTION_DAYS = int(os.environ.get("AUDIT_RETENTION_DAYS", "0"))
# The chain's head is anchored every AUDIT_ANCHOR_SECONDS; every event older than the
# window must be sealed and anchored, or audit_verify and /healthz report it. The window
# is what someone who can write the database may still remove unnoticed (ADR 0008).
AUDIT_ANCHOR_SECONDS = int(os.environ.get("AUDIT_ANCHOR_SECONDS", "60"))
AUDIT_ANCHOR_WINDOW_SECONDS = int(os.environ.get("AUDIT_ANCHOR_WINDOW_SECONDS", "180"))
STORAGES = {
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": DATA_DIR / "media"},
    },
    "donations": _donation_storage,
    "audit": _audit_storage,
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# --- Encryption of donated images (annotations/crypto.py).
# Base64 of 32 random bytes. Without it a key is generated into SECRETS_DIR with a
# warning, which is fine for a laptop and refused together with S3 (see below).
DROPTURK_MASTER_KEY = os.environ.get("DROPTURK_MASTER_KEY", "")
DROPTURK_MASTER_KEY_FILE = SECRETS_DIR / "master.key"
if S3_BUCKET and not DROPTURK_MASTER_KEY:
    raise ImproperlyConfigured(
        "S3_BUCKET is set but DROPTURK_MASTER_KEY is not: a deployment that stores "
        "donations in object storage must supply its master key from the environment."
    )

# --- Dataset exports (exports/): encrypted archives in the donations storage, under exports/.
EXPORTS_STORAGE = "donations"
EXPORT_RETENTION_DAYS = int(os.environ.get("EXPORT_RETENTION_DAYS", "7"))
EXPORT_LINK_SECONDS = int(os.environ.get("EXPORT_LINK_SECONDS", "300"))  # download links
EXPORT_STALLED_AFTER_SECONDS = 1800  # a build with no progress this long lost its worker
EXPORT_MAX_ATTEMPTS = 3  # builds of one export, lost or failed on a transient error

# --- Uploads: held in memory only, never spooled to a temporary file.
FILE_UPLOAD_HANDLERS = ["annotations.uploads.BoundedMemoryUploadHandler"]
DONATION_MAX_BYTES = 20 * 1024 * 1024
DONATION_MAX_PIXELS = 40_000_000
# A page smaller or longer than this is refused on upload (the detector cannot cut it).
DONATION_MIN_SIDE_PIXELS = 16
DONATION_MAX_ASPECT_RATIO = 20

# --- Celery. Redis when REDIS_URL is set; otherwise a filesystem broker that
# needs no server, for the single machine set-up.
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
else:
    _broker_dir = DATA_DIR / "broker"
    for _folder in ("queue", "processed", "control"):
        (_broker_dir / _folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://localhost//"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        # The exchange tables (kombu's default: ./control, wherever the process started).
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
# Liveness (dropturk/health.py): beat's heartbeat, the sealer, the stalled sweep.
HEALTH_HEARTBEAT_SECONDS = 30
HEALTH_BEAT_STALE_SECONDS = int(os.environ.get("HEALTH_BEAT_STALE_SECONDS", "120"))
HEALTH_UNSEALED_MAX_SECONDS = int(os.environ.get("HEALTH_UNSEALED_MAX_SECONDS", "120"))
# A donation in `processing` this long lost its worker (the whole pipeline is one task of
# seconds); one still `received` waits in the queue and is re-sent only after
# OCR_STALLED_AFTER_SECONDS (a backlog is not a loss). The sweep runs this often.
OCR_STALLED_PROCESSING_SECONDS = int(os.environ.get("OCR_STALLED_PROCESSING_SECONDS", "90"))
OCR_STALLED_SWEEP_SECONDS = int(os.environ.get("OCR_STALLED_SWEEP_SECONDS", "30"))
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_IMPORTS = ("dropturk.health",)  # dropturk.heartbeat
CELERY_BEAT_SCHEDULE = {
    # A donation whose worker died is picked up again within
    # OCR_STALLED_PROCESSING_SECONDS + OCR_STALLED_SWEEP_SECONDS (2 minutes).
    "requeue-stalled-donations": {
        "task": "ocr_bridge.requeue_stalled_donations",
        "schedule": float(OCR_STALLED_SWEEP_SECONDS),
    },
    # Beat is alive (and a worker of the default queue): /healthz reads the stamp.
    "heartbeat": {"task": "dropturk.heartbeat", "schedule": float(HEALTH_HEARTBEAT_SECONDS)},
    # Events are linked into the hash chain within seconds of being written...
    "audit-seal": {"task": "audit.seal_chain", "schedule": 10.0},
    # ...and the chain's head is copied out of the database every minute: events older
    # than AUDIT_ANCHOR_WINDOW_SECONDS are covered by an anchor (audit_verify checks it).
    "audit-anchor": {"task": "audit.write_anchor", "schedule": float(AUDIT_ANCHOR_SECONDS)},
    "audit-archive": {"task": "audit.archive_old_events", "schedule": crontab(hour=3, minute=17)},
    "exports-expire": {"task": "exports.expire", "schedule": crontab(minute=23)},
    "exports-requeue": {"task": "exports.requeue_stalled", "schedule": crontab(minute="*/5")},
    # Label quality: annotator statistics off the annotator's path; queue depth for its chart.
    "quality-stats": {"task": "quality.refresh_stats", "schedule": crontab(minute="*/10")},
    "quality-queue": {"task": "quality.snapshot_queue", "schedule": crontab(minute="*/5")},
}

# --- Cache: shared across processes: Redis in production, the database otherwise.
if REDIS_URL:
    CACHES = {
        "default": {
            # django-redis keeps one client per process; Django's own Redis backend
            # builds a new client object on every call (measured: 217 vs 127 µs a get).
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "dropturk",
        }
    }
    # Sessions read from Redis, written through to the database: one lookup fewer per
    # request, and nothing lost if Redis restarts.
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
else:
    # No Redis: the database is the cache every process shares. uWSGI runs several
    # workers, and a cache per process let each accept a used TOTP code again and count
    # throttles on its own. `migrate` creates the table (accounts.apps, post_migrate).
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "dropturk_cache",
            # Past MAX_ENTRIES Django drops the expired keys, then a third of the rest by
            # name, not age (default 300): a used TOTP code's marker must outlive its 30 s.
            "OPTIONS": {"MAX_ENTRIES": 50_000},
        }
    }

# --- OCR.
OCR_ENGINE = os.environ.get("OCR_ENGINE", "crnn")
# A donation still in received/processing after this long is handed to the
# pipeline again; after OCR_MAX_ATTEMPTS it is marked failed.
OCR_STALLED_AFTER_SECONDS = int(os.environ.get("OCR_STALLED_AFTER_SECONDS", "900"))
OCR_MAX_ATTEMPTS = 3
# Crops the orientation classifier is this sure are turned are turned back before reading.
OCR_ORIENTATION_MIN_CONFIDENCE = float(os.environ.get("OCR_ORIENTATION_MIN_CONFIDENCE", "0.9"))
# The most word crops one page makes (its most confident words): a noise photo must not
# flood the labeling queue. The page's text keeps every word.
OCR_MAX_CROPS_PER_PAGE = int(os.environ.get("OCR_MAX_CROPS_PER_PAGE", "400"))

# --- The learning loop (ocr_bridge.learning). A retrained model better than its parent by
# this much (case-insensitive accuracy on the frozen test split) is promoted by itself;
# unset: only by an ML engineer. Only with at least MODEL_AUTO_PROMOTE_MIN_CROPS crops there.
MODEL_AUTO_PROMOTE_MARGIN = (
    float(os.environ["MODEL_AUTO_PROMOTE_MARGIN"])
    if os.environ.get("MODEL_AUTO_PROMOTE_MARGIN")
    else None
)
MODEL_AUTO_PROMOTE_MIN_CROPS = int(os.environ.get("MODEL_AUTO_PROMOTE_MIN_CROPS", "200"))
MODEL_REPREFILL_BATCH = 256  # unlabeled crops read again per task after a promotion

# --- Labeling queue.
TASK_LEASE_SECONDS = int(os.environ.get("TASK_LEASE_SECONDS", "600"))
TASK_LEASE_MAX_COUNT = 50
# Annotator statistics (beat, every ten minutes) are computed from the newest this many
# current labels, so their cost and memory stay bounded as labels accumulate (and they
# follow how people work now); label totals count everything.
QUALITY_STATS_WINDOW_LABELS = int(os.environ.get("QUALITY_STATS_WINDOW_LABELS", "200000"))

# --- DRF and the OpenAPI schema.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "annotations.api.authentication.ServiceTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "DropTurk API",
    "DESCRIPTION": "Donations in, labeled word crops out.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    # Every operation's 400/401/403/404 and their {"detail"} shape (dropturk/schema.py).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "dropturk.schema.add_error_responses",
    ],
    # <rowid:...> (dbkit.urls): an id a 64-bit column holds; larger ones answer 404.
    "PATH_CONVERTER_OVERRIDES": {
        "rowid": {"type": "integer", "format": "int64", "minimum": 0, "maximum": 2**63 - 1}
    },
    # An annotator's bad mark and a reviewer's bad-crop reason are one choice set: one name.
    "ENUM_NAME_OVERRIDES": {"BadCropReasonEnum": "quality.models.BadCropReason"},
}

# --- Sign-in (django-allauth).
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"
ACCOUNT_LOGIN_METHODS = {"username", "email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "username*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "none"
# People are invited by an admin; nobody signs themselves up to see personal data.
ACCOUNT_ADAPTER = "accounts.adapter.InviteOnlyAccountAdapter"
ACCOUNT_LOGOUT_ON_GET = False
ACCOUNT_SESSION_REMEMBER = False  # no "remember me": sessions follow the timeouts below
ACCOUNT_REAUTHENTICATION_TIMEOUT = 300  # seconds a password/MFA confirmation counts as recent
# allauth's own limits stay as an outer guard (per IP, and per account across IPs); the
# 5-per-username+IP lockout is django-axes' below. The per-key limit also caps wrong MFA
# codes per account (allauth counts them under "login_failed").
ACCOUNT_RATE_LIMITS = {"login_failed": "10/m/ip,10/5m/key"}
ALLAUTH_TRUSTED_PROXY_COUNT = TRUSTED_PROXY_COUNT

# --- MFA (allauth.mfa), mandatory for everyone (accounts.middleware.MfaRequiredMiddleware).
MFA_SUPPORTED_TYPES = ["totp", "webauthn", "recovery_codes"]
MFA_PASSKEY_LOGIN_ENABLED = True
MFA_TOTP_ISSUER = "DropTurk"
MFA_TOTP_TOLERANCE = 0  # only the current 30-second code; a used code is refused (cache)
# WebAuthn needs a secure origin; http://localhost is allowed only while debugging.
MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = DEBUG

# --- Sessions: 30 minutes idle, 8 hours in all (accounts.middleware.SessionTimeoutMiddleware).
SESSION_IDLE_SECONDS = 30 * 60
SESSION_ABSOLUTE_SECONDS = 8 * 3600
SESSION_COOKIE_AGE = SESSION_ABSOLUTE_SECONDS
SESSION_EXPIRE_AT_BROWSER_CLOSE = True

# --- Brute force (django-axes): 5 failures per username+IP lock that pair for 15 minutes.
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_USERNAME_CALLABLE = "accounts.lockout.attempted_username"
AXES_LOCKOUT_TEMPLATE = "account/lockout.html"
AXES_HTTP_RESPONSE_CODE = 429
AXES_IPWARE_PROXY_COUNT = TRUSTED_PROXY_COUNT or None
AXES_IPWARE_META_PRECEDENCE_ORDER = (
    ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR") if TRUSTED_PROXY_COUNT else ("REMOTE_ADDR",)
)
EMAIL_BACKEND = os.environ.get(
    "DJANGO_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend"
)

# --- Security headers that hold in every environment.
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
CSRF_FAILURE_VIEW = "dropturk.errors.csrf_failure"  # JSON under /api/
CSRF_COOKIE_HTTPONLY = True  # pages hand the token to scripts in a data- attribute
SESSION_COOKIE_SAMESITE = "Strict"
CSRF_COOKIE_SAMESITE = "Strict"
SESSION_COOKIE_SECURE = not DEBUG and _env_bool("DJANGO_SECURE_COOKIES", True)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
if SESSION_COOKIE_SECURE:
    # __Host-: the browser keeps the cookie only if Secure, Path=/ and no Domain, so no
    # subdomain and no plain-HTTP page can set or overwrite it.
    SESSION_COOKIE_NAME = "__Host-dropturk_session"
    CSRF_COOKIE_NAME = "__Host-dropturk_csrf"
    SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_HSTS_SECONDS", str(365 * 24 * 3600)))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
if TRUSTED_PROXY_COUNT:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = _env_bool("DJANGO_SSL_REDIRECT", False)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

# Content-Security-Policy (django-csp): our own files only, no inline script or style,
# no framing. Crop images are shown from blob: URLs the page makes from fetched bytes.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:", "blob:"],
        "connect-src": [SELF],
        "font-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}

if not SECRET_KEY:
    from dbkit.local_secrets import load_or_create_secret_key

    SECRET_KEY = load_or_create_secret_key(SECRETS_DIR / "secret_key")
