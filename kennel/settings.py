"""The one settings module. Everything comes from the environment (see .env.example)."""

import re
from pathlib import Path
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
PACKAGE_DIR = Path(__file__).resolve().parent

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    environ.Env.read_env(BASE_DIR / ".env")

DEBUG = env.bool("DEBUG", default=False)
PAYMENTS_MODE = env.str("PAYMENTS_MODE", default="sandbox")
if PAYMENTS_MODE not in ("sandbox", "live"):
    raise ImproperlyConfigured("PAYMENTS_MODE must be 'sandbox' or 'live'")
# A built-in key is only acceptable when no real money can be at stake: in live mode the
# go-live guard (kennel/core/checks.py) refuses it, along with every other unsafe setting.
SANDBOX_SECRET_KEY = "kennel-sandbox-insecure-key"
SECRET_KEY = env.str("SECRET_KEY", default="") or SANDBOX_SECRET_KEY
# Without its trailing "/": every address the shop gives (return URLs, emails) adds its own.
SITE_URL = env.str(
    "SITE_URL", default="http://127.0.0.1:" + env.str("PORT", default="8000")
).rstrip("/")
_site = urlsplit(SITE_URL)
ALLOWED_HOSTS = env.list(
    "ALLOWED_HOSTS",
    default=[h for h in ("127.0.0.1", "localhost", "testserver") if h != _site.hostname]
    + ([_site.hostname] if _site.hostname else []),
)
# The shop's own origin is trusted for CSRF (forms posted over HTTPS behind a proxy).
CSRF_FAILURE_VIEW = "kennel.core.views.csrf_failure"  # the shop's own page, not Django's bare 403
CSRF_TRUSTED_ORIGINS = env.list(
    "CSRF_TRUSTED_ORIGINS", default=[f"{_site.scheme}://{_site.netloc}"] if _site.netloc else []
)

INSTALLED_APPS = [
    "kennel.ops.apps.KennelAdminConfig",  # django.contrib.admin, with the back office's site
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.sitemaps",
    "django_tasks",
    "django_tasks_db",
    "axes",
    "django_ratelimit",
    "ninja",  # its Swagger UI then comes from our static files, not a CDN: /api/docs works offline
    "kennel.core",
    "kennel.catalogue",
    "kennel.reservations",
    "kennel.payments",
    "kennel.monitoring",
    "kennel.notifications",
    "kennel.analytics",
    "kennel.ops",
]

# GET /metrics (kennel/monitoring): when set, a scrape must send `Authorization: Bearer <it>`.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
# Prometheus multiprocess mode: every process (web workers, the worker) writes its counters
# to files here and /metrics sums them (kennel/core/metrics.py). Set now, in os.environ, for
# prometheus_client reads it when first imported, and child processes inherit it.
env.ENVIRON.setdefault("PROMETHEUS_MULTIPROC_DIR", str(BASE_DIR / "var" / "prometheus"))

MIDDLEWARE = [
    # First: it times the whole request and sees its final status (kennel/monitoring).
    "kennel.monitoring.middleware.RequestMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # CSP, and HEAD answered as GET without a body (kennel/core/security.py).
    "kennel.core.security.SecurityHeadersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The buyer's language: the language cookie (set by /i18n/setlang/), else Accept-Language,
    # else LANGUAGE_CODE. After sessions, before CommonMiddleware; URLs carry no prefix.
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Under /api/, Django's and django-ninja's own 404 / 405 in the API's JSON error contract
    # (inside the others, so that their headers go on it too).
    "kennel.api.middleware.ApiErrorsMiddleware",
    # The admin door: failed log-ins are counted and locked out (django-axes, AXES_* below).
    "axes.middleware.AxesMiddleware",
    # Last, so it sees the view's exceptions first: a lost database is a 503, never a 500.
    "kennel.core.middleware.DatabaseUnavailableMiddleware",
]

ROOT_URLCONF = "kennel.urls"
WSGI_APPLICATION = "kennel.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [PACKAGE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "kennel.core.context_processors.shop",
            ],
        },
    },
]

# SQLite is the zero-setup default; PostgreSQL in production and tests (DATABASE_URL).
_NOT_A_DATABASE_URL = (
    "DATABASE_URL is not a database URL: use postgres://user:password@host:5432/name or "
    "sqlite:////absolute/path/kennel.sqlite3"
)
try:
    DATABASES = {
        "default": env.db_url(
            "DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'var' / 'kennel.sqlite3'}"
        )
    }
except (KeyError, ValueError) as exc:
    raise ImproperlyConfigured(_NOT_A_DATABASE_URL) from exc
if "ENGINE" not in DATABASES["default"]:  # a URL of no scheme django-environ knows
    raise ImproperlyConfigured(_NOT_A_DATABASE_URL)
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=600)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Django's backend, with a health check that needs no round trip (kennel/core/postgresql).
    DATABASES["default"]["ENGINE"] = "kennel.core.postgresql"
# What a request that meets an unreachable database tells the client to wait (503).
DATABASE_RETRY_AFTER_SECONDS = env.int("DATABASE_RETRY_AFTER_SECONDS", default=5)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The zero-setup default must work from a fresh clone: its folder may not exist yet.
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # IMMEDIATE takes the write lock at BEGIN, so two writers queue instead of deadlocking.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / "var" / "test-kennel.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses a locked-out username + address
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

# The shop's default language (the breeder's choice); a buyer may switch to the other one.
LANGUAGES = [("en", "English"), ("fr", "Français")]
LANGUAGE_CODE = env.str("LANGUAGE_CODE", default="en")
if LANGUAGE_CODE not in dict(LANGUAGES):
    raise ImproperlyConfigured(f"LANGUAGE_CODE must be one of {', '.join(dict(LANGUAGES))}")
LOCALE_PATHS = [PACKAGE_DIR / "locale"]
TIME_ZONE = env.str("TIME_ZONE", default="Europe/Paris")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "var" / "static")))
STATICFILES_DIRS = [PACKAGE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(BASE_DIR / "var" / "media")))
# Puppy photo uploads (kennel/catalogue/images.py): larger files, or images of more pixels
# (a decompression bomb is a small file of huge dimensions), are refused.
PHOTO_MAX_BYTES = env.int("PHOTO_MAX_BYTES", default=20_000_000)
PHOTO_MAX_PIXELS = env.int("PHOTO_MAX_PIXELS", default=50_000_000)
WHITENOISE_USE_FINDERS = True
# Static files under content-hashed names, cached for good by browsers (kennel/core/
# staticfiles.py); uploads (media) in MEDIA_ROOT.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "kennel.core.staticfiles.HashedStaticFilesStorage"},
}

# Background work: the task table is the outbox, written in the state change's transaction.
# Two queues: money (refunds, checkout closes, webhook reprocessing) runs on its own worker
# thread, so a slow mail server never holds up a refund (kennel/core/outbox.py).
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default", "money"]}}

# --- the shop ---
SHOP_NAME = env.str("SHOP_NAME", default="Kennel")
BREEDER_NAME = env.str("BREEDER_NAME", default="Kennel demo breeder")
# Example contact details in sandbox mode only, so the demo shows them; live mode requires the
# real ones (the go-live guard, kennel/core/checks.py).
_demo = PAYMENTS_MODE == "sandbox"
BREEDER_EMAIL = env.str("BREEDER_EMAIL", default="hello@maplehill.example" if _demo else "")
BREEDER_PHONE = env.str("BREEDER_PHONE", default="+33 6 12 00 00 00" if _demo else "")
DEFAULT_CURRENCY = env.str("DEFAULT_CURRENCY", default="EUR")
DEPOSIT_SHARE = env.float("DEPOSIT_SHARE", default=0.2)
HOLD_MINUTES = env.int("HOLD_MINUTES", default=30)
# How long a family on a waiting list has to choose when its turn opens (a litter may say).
PICK_WINDOW_MINUTES = env.int("PICK_WINDOW_MINUTES", default=1440)
for _name in ("HOLD_MINUTES", "PICK_WINDOW_MINUTES"):
    if vars()[_name] < 1:  # a hold expired as it is made would let a second buyer in at once
        raise ImproperlyConfigured(f"{_name} must be at least 1 (minutes)")
# One family, one hold: active holds per buyer email and per client address (behind
# TRUSTED_PROXIES the forwarded one), holds per client address and period (django-ratelimit:
# "10/m", "30/h"), and how long a buyer who cancelled a puppy's hold waits before holding it
# again while others may. 0 switches each off.
HOLDS_PER_EMAIL = env.int("HOLDS_PER_EMAIL", default=1)
HOLDS_PER_CLIENT = env.int("HOLDS_PER_CLIENT", default=3)
HOLD_RATE = env.str("HOLD_RATE", default="10/m").strip()
if HOLD_RATE != "0" and not re.fullmatch(r"[1-9][0-9]*/[1-9]?[0-9]*[smhd]", HOLD_RATE):
    # django-ratelimit's own form; anything else would fail every hold (or mean "per second").
    raise ImproperlyConfigured(
        f"HOLD_RATE={HOLD_RATE!r} is not a rate: holds per client and period, like 10/m, "
        "30/h or 100/d (s, m, h, d), or 0 for no limit"
    )
HOLD_COOLDOWN_SECONDS = env.int("HOLD_COOLDOWN_SECONDS", default=120)
# django-ratelimit's counters (HOLD_RATE) must be shared by every web process: by default a
# table in the database (made by migrate), CACHE_URL=redis://… for a cache server. Everything
# else keeps the per-process memory cache.
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "limits": env.cache_url("CACHE_URL", default="dbcache://kennel_cache"),
}
RATELIMIT_USE_CACHE = "limits"
RATELIMIT_FAIL_OPEN = True  # a cache server down must not stop sales; the exact limits still hold
# django-ratelimit wants memcached or Redis (atomic increments). The database table is shared
# by every process but counts without a lock: two requests at the same instant may both pass,
# so HOLD_RATE can let one extra hold through; the active-hold limits above are exact.
SILENCED_SYSTEM_CHECKS = ["django_ratelimit.E003", "django_ratelimit.W001"]
LOCK_TIMEOUT_SECONDS = env.int("LOCK_TIMEOUT_SECONDS", default=5)

# --- payments ---
SANDBOX_PORT = env.int("SANDBOX_PORT", default=8111)
SANDBOX_URL = env.str("SANDBOX_URL", default=f"http://127.0.0.1:{SANDBOX_PORT}")
_sandbox = PAYMENTS_MODE == "sandbox"
# In sandbox mode the keys are well-known placeholders: no real money can move through them.
STRIPE_SECRET_KEY = env.str(
    "STRIPE_SECRET_KEY", default="sk_test_kennel_sandbox" if _sandbox else ""
)
STRIPE_WEBHOOK_SECRET = env.str(
    "STRIPE_WEBHOOK_SECRET", default="whsec_kennel_sandbox_not_secret" if _sandbox else ""
)
STRIPE_API_BASE = env.str("STRIPE_API_BASE", default=SANDBOX_URL if _sandbox else "")
STRIPE_WEBHOOK_TOLERANCE = env.int("STRIPE_WEBHOOK_TOLERANCE", default=300)
PAYPAL_CLIENT_ID = env.str("PAYPAL_CLIENT_ID", default="kennel-sandbox-client" if _sandbox else "")
PAYPAL_CLIENT_SECRET = env.str(
    "PAYPAL_CLIENT_SECRET", default="kennel-sandbox-secret" if _sandbox else ""
)
PAYPAL_WEBHOOK_ID = env.str("PAYPAL_WEBHOOK_ID", default="WH-KENNEL-SANDBOX" if _sandbox else "")
PAYPAL_API_BASE = env.str("PAYPAL_API_BASE", default=SANDBOX_URL if _sandbox else "")
# How PayPal webhooks are verified: `offline` (RSA signature checked here, against PayPal's
# certificate fetched only from https://*.paypal.com in live mode, or from the sandbox's own
# origin in sandbox mode) or `api` (PayPal's verify-webhook-signature endpoint is asked).
PAYPAL_WEBHOOK_VERIFICATION = env.str("PAYPAL_WEBHOOK_VERIFICATION", default="offline")
if PAYPAL_WEBHOOK_VERIFICATION not in ("offline", "api"):
    raise ImproperlyConfigured("PAYPAL_WEBHOOK_VERIFICATION must be 'offline' or 'api'")
# How old a PayPal delivery's (signed) transmission time may be. PayPal retries a failed
# delivery for three days and does not document whether a retry is dated anew: three days and
# one of margin. Seen transmission ids are kept 30 days (payments/webhooks.py), so at most 28.
PAYPAL_WEBHOOK_MAX_AGE_HOURS = env.int("PAYPAL_WEBHOOK_MAX_AGE_HOURS", default=96)
if not 1 <= PAYPAL_WEBHOOK_MAX_AGE_HOURS <= 28 * 24:
    raise ImproperlyConfigured("PAYPAL_WEBHOOK_MAX_AGE_HOURS must be between 1 and 672")
# Calls one process makes per minute to verify PayPal webhooks (certificate downloads,
# verify-webhook-signature), so forged deliveries cannot drive them; beyond it a delivery is
# refused (400 verification_rate_limited) and PayPal retries it. 0 switches the bound off.
PAYPAL_WEBHOOK_VERIFY_PER_MINUTE = env.int("PAYPAL_WEBHOOK_VERIFY_PER_MINUTE", default=60)
PROVIDER_TIMEOUT_SECONDS = env.float("PROVIDER_TIMEOUT_SECONDS", default=15.0)
# Buyer-facing provider calls (starting a checkout, the return URL) one web process makes at
# once; more are answered 503 PROVIDER_BUSY at once. At most half of a worker's granian
# threads (--blocking-threads in ops/management/commands/serve.py), so a frozen provider
# leaves the rest to the pages. 5: a litter of 10 announced at once reaches the provider at
# once over the 2 web workers (README, "A provider is slow to answer a buyer"). 0 switches
# the bound off.
PROVIDER_CONCURRENCY = env.int("PROVIDER_CONCURRENCY", default=5)

# --- notifications and analytics: each integration is off while its settings are absent ---
# Empty: the owner gets no emails. The sandbox's example address shows them in the demo.
OWNER_EMAIL = env.str("OWNER_EMAIL", default="owner@maplehill.example" if _demo else "")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="kennel@localhost")
if re.match(r"filemail://[^/]", env.str("EMAIL_URL", default="")):
    # filemail://mail would write to /mail: a relative directory is refused, not guessed.
    raise ImproperlyConfigured(
        "EMAIL_URL: filemail:///absolute/directory names an absolute directory (three "
        f"slashes); got {env.str('EMAIL_URL')!r}"
    )
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
if "EMAIL_FILE_PATH" in EMAIL_CONFIG and not EMAIL_CONFIG["EMAIL_FILE_PATH"].startswith("/"):
    # filemail:///abs/dir names an absolute directory (DESIGN); django-environ drops its "/".
    EMAIL_CONFIG["EMAIL_FILE_PATH"] = "/" + EMAIL_CONFIG["EMAIL_FILE_PATH"]
vars().update(EMAIL_CONFIG)
EMAIL_TIMEOUT = env.float("EMAIL_TIMEOUT", default=30.0)
GA4_MEASUREMENT_ID = env.str("GA4_MEASUREMENT_ID", default="")
GA4_API_SECRET = env.str("GA4_API_SECRET", default="")
GA4_ENDPOINT = env.str("GA4_ENDPOINT", default="https://www.google-analytics.com/mp/collect")
# Check each event at /debug/mp/collect first; any validationMessages and it is not sent.
GA4_VALIDATE = env.bool("GA4_VALIDATE", default=False)
META_PIXEL_ID = env.str("META_PIXEL_ID", default="")
META_ACCESS_TOKEN = env.str("META_ACCESS_TOKEN", default="")
META_ENDPOINT = env.str("META_ENDPOINT", default="https://graph.facebook.com")
META_API_VERSION = env.str("META_API_VERSION", default="v23.0")
META_TEST_EVENT_CODE = env.str("META_TEST_EVENT_CODE", default="")
ANALYTICS_TIMEOUT_SECONDS = env.float("ANALYTICS_TIMEOUT_SECONDS", default=10.0)
# Country calling code put in front of national phone numbers (no + or 00) before hashing.
PHONE_COUNTRY_CODE = env.str("PHONE_COUNTRY_CODE", default="")
# How many reverse proxies sit in front of Kennel; only then is X-Forwarded-For believed.
TRUSTED_PROXIES = env.int("TRUSTED_PROXIES", default=0)
# The outbox: retries back off exponentially (with jitter) up to a cap, then the row is dead.
SIDE_EFFECT_MAX_ATTEMPTS = env.int("SIDE_EFFECT_MAX_ATTEMPTS", default=12)
SIDE_EFFECT_RETRY_BASE_SECONDS = env.float("SIDE_EFFECT_RETRY_BASE_SECONDS", default=30.0)
SIDE_EFFECT_RETRY_MAX_SECONDS = env.float("SIDE_EFFECT_RETRY_MAX_SECONDS", default=3600.0)
# A send still unfinished after this long was cut off (worker killed): it is tried again.
SIDE_EFFECT_LEASE_SECONDS = env.float("SIDE_EFFECT_LEASE_SECONDS", default=300.0)
# The worker's threads for the money queue (webhooks, refunds, checkout closes), each with its
# own database connection: the work waits on providers and PostgreSQL, so they overlap.
WORKER_MONEY_THREADS = env.int("WORKER_MONEY_THREADS", default=6)
# How many worker processes `serve` runs side by side. One process works under one GIL, so it
# uses one core at most; a second confirms a burst of payments on another, while the web
# server acknowledges it more slowly (README, "Performance"). SQLite: one writer at a time, 1.
WORKER_PROCESSES = env.int("WORKER_PROCESSES", default=1)
# The worker's CPU priority (nice, 0-19): background work yields the CPU to the web server, so
# buyers' pages and the providers' acknowledgements stay fast while a burst is processed.
WORKER_NICE = env.int("WORKER_NICE", default=10)
# /health/webhooks/ and the owner's alerts (kennel/monitoring/checks.py): a webhook event
# unprocessed for this long; no event from a provider for this long while one of its holds has
# waited as long (0: off); the worker's reconciliation runs this often (0: off, e.g. cron).
HEALTH_WEBHOOK_BACKLOG_MINUTES = env.float("HEALTH_WEBHOOK_BACKLOG_MINUTES", default=15.0)
HEALTH_SILENCE_HOURS = env.float("HEALTH_SILENCE_HOURS", default=24.0)
# The owner is emailed about a check failing this long (a shorter blip is not worth a mail).
HEALTH_ALERT_AFTER_MINUTES = env.float("HEALTH_ALERT_AFTER_MINUTES", default=5.0)
RECONCILE_EVERY_MINUTES = env.float("RECONCILE_EVERY_MINUTES", default=60.0)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # axes says "BEGIN" at every process start; its lockouts are warnings and still show.
    # Django logs every 4xx answer as a warning: a flash sale's 409s or a scanner's 404s are
    # thousands of lines that bury the real ones. /metrics counts them by route and status;
    # 5xx are still logged, with their tracebacks. The stripe SDK says two INFO lines about
    # every API call it makes; its errors reach Kennel's own log as exceptions. A form posted
    # over DATA_UPLOAD_MAX_MEMORY_SIZE is the sender's error, answered 400: Django would log
    # it as an ERROR with a traceback, once per request (the API and webhooks answer theirs
    # in JSON before that: api/guards.py, payments/views.py).
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "stripe": {"level": "WARNING"},
        # httpx logs each request's whole URL at INFO: GA4's carries its api_secret.
        "httpx": {"level": "WARNING"},
        "axes": {"level": "WARNING"},
        "django.request": {"level": "ERROR"},
        "django.security.RequestDataTooBig": {"level": "CRITICAL"},
        "django.security.TooManyFieldsSent": {"level": "CRITICAL"},
    },
}

# --- security: headers on every response, TLS behind a reverse proxy, the admin door ---
_live = PAYMENTS_MODE == "live"
# Behind a TLS-terminating proxy: the header it sets and the value meaning HTTPS, e.g.
# SECURE_PROXY_SSL_HEADER=HTTP_X_FORWARDED_PROTO,https (only if the proxy always sets it).
SECURE_PROXY_SSL_HEADER = env.tuple("SECURE_PROXY_SSL_HEADER", default=None) or None
if SECURE_PROXY_SSL_HEADER is not None and len(SECURE_PROXY_SSL_HEADER) != 2:
    raise ImproperlyConfigured("SECURE_PROXY_SSL_HEADER must be HEADER,value")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=_live)
# Uptime monitors and the metrics scraper may ask over plain HTTP from inside the network.
SECURE_REDIRECT_EXEMPT = [r"^health/", r"^metrics$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000 if _live else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=_live)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=_live)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=_live)
SESSION_COOKIE_HTTPONLY = True
# Django admin login: 5 failures for one username from one address lock that pair for an
# hour (the same answer whether the user exists or not). Unlock early with
# `python -m kennel axes_reset_username <name>` (or axes_reset_ip / axes_reset).
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_HOURS", default=1.0)  # float: hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# The address as the rest of Kennel sees it (X-Forwarded-For only behind TRUSTED_PROXIES).
AXES_CLIENT_IP_CALLABLE = "kennel.reservations.tracking.client_ip"
AXES_COOLOFF_MESSAGE = (
    "Too many failed log-ins: signing in with this username from this address is locked "
    f"for {AXES_COOLOFF_TIME:g} hour(s). Try again later, or ask the shop's administrator "
    "to unlock it."
)
