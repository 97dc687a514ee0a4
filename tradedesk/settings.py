"""tradedesk settings: one file, every value from the environment (see .env.example).

Nothing set -> the embedded desk: SQLite (WAL), a filesystem Celery broker, an in-memory
channel layer. DATABASE_URL=postgres://... and REDIS_URL=redis://... -> the production
runtime on the same code.
"""

import os
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

import environ
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
TESTING = env.bool("TRADEDESK_TESTING", default=False) or "pytest" in sys.modules
# The local settings `make run` generates into .env (optional; real environment variables win).
# DESK_ENV_FILE names another file. Tests never see a developer's .env: under pytest it is not
# read, and tests/conftest.py sets DESK_ENV_FILE=/dev/null for every process a test starts.
environ.Env.read_env(env.str("DESK_ENV_FILE", default="") or (os.devnull if TESTING else BASE_DIR / ".env"))
# An empty value means "not set" (as .env.example leaves them), so defaults apply.
for _name in [name for name, value in os.environ.items() if value == ""]:
    del os.environ[_name]

# Files the embedded runtime keeps: SQLite database, broker messages, beat schedule, logs.
VAR_DIR = Path(env.str("VAR_DIR", default=str(BASE_DIR / "var")))

DEBUG = env.bool("DEBUG", default=False)

# Prometheus multiprocess mode, set up before any metric exists (apps/common/prometheus.py): every
# desk process writes its counters into this folder and /metrics adds them up. Tests get a folder
# of their own run (the processes a test starts inherit it).
from apps.common.prometheus import multiprocess_configure  # noqa: E402 - must precede every metric's creation

PROMETHEUS_MULTIPROC_DIR = multiprocess_configure(
    Path(
        env.str("PROMETHEUS_MULTIPROC_DIR", default="")
        or (tempfile.mkdtemp(prefix="tradedesk-metrics-") if TESTING else str(VAR_DIR / "metrics"))
    )
)


def _required_secret(name: str, dev_default: str) -> str:
    """Secrets have a development default only under DEBUG or tests; production refuses to start."""
    value = env.str(name, default="")
    if value:
        return value
    if DEBUG or TESTING:
        return dev_default
    raise ImproperlyConfigured(
        f"{name} is not set. Set it in the environment (see .env.example), or run with DEBUG=1 for development."
    )


SECRET_KEY = _required_secret("SECRET_KEY", "dev-only-insecure-secret-key")
# Fernet key(s) for API keys at rest; comma separated, newest first, so keys can be rotated.
FIELD_ENCRYPTION_KEYS = _required_secret("FIELD_ENCRYPTION_KEY", "ZGV2LW9ubHktaW5zZWN1cmUtZmllbGQta2V5LTMyYiE=").split(",")

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django_prometheus",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_filters",
    "django_celery_beat",
    "channels",
    "axes",
    "csp",
    "apps.common",
    "apps.markets",
    "apps.exchanges",
    "apps.simexchange",
    "apps.strategies",
    "apps.trading",
    "apps.risk",
    "apps.goals",
    "apps.alerts",
    "apps.research",
    "apps.web",
    "apps.api",
    "apps.desk",
]

MIDDLEWARE = [
    # Outermost: the Server-Timing header counts every other middleware's time too.
    *(["apps.web.middleware.ServerTimingMiddleware"] if env.bool("SERVER_TIMING", default=True) else []),
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    # First of ours: a NUL byte in the address is refused before any view or filter queries with it.
    "apps.web.middleware.NulByteRefusedMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a refused (locked-out) login into the lockout page.
    "axes.middleware.AxesMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "tradedesk.urls"
ASGI_APPLICATION = "tradedesk.asgi.application"
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

# --- Database -------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'tradedesk.sqlite3'}")}
IS_SQLITE = DATABASES["default"]["ENGINE"].endswith("sqlite3")
if IS_SQLITE:
    # Web, worker, beat and relay write at once: WAL lets readers run beside the writer,
    # IMMEDIATE takes the write lock at BEGIN (no lock-upgrade deadlocks), and the timeout
    # makes a writer wait instead of failing with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=30000;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
    _sqlite_file = Path(DATABASES["default"]["NAME"])
    if not TESTING and DATABASES["default"]["NAME"] not in ("", ":memory:"):
        # It holds password hashes, live sessions and the encrypted API keys: owner only. Created
        # here before SQLite does, as SQLite gives its -wal and -shm files the database file's mode.
        _sqlite_file.parent.mkdir(parents=True, exist_ok=True)
        _sqlite_file.touch(mode=0o600)
        for _path in (_sqlite_file, Path(f"{_sqlite_file}-wal"), Path(f"{_sqlite_file}-shm")):
            if _path.exists():
                _path.chmod(0o600)
elif env.bool("DB_POOL", default="uvicorn" in sys.modules and not TESTING):
    # The web process (uvicorn runs it: rundesk, docker-compose, the benches; DB_POOL=true|false
    # says so for another server or process): under ASGI each request has a connection
    # of its own (Django's are per context, not per thread), so persistent connections are never
    # reused there and every request that touched the database opened a new one (a new server
    # process each time: most of a cached API page's time, and connections piled up until the
    # garbage collector closed them). A pool per process hands them over instead; with health
    # checks each is checked as it is taken (a database restarted meanwhile costs a reconnect).
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # the pool keeps them (Django refuses both)
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1,
        "max_size": env.int("DB_POOL_MAX_SIZE", default=8),
        "timeout": 10,
    }
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DB_CONN_MAX_AGE", default=60))
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
DATABASES["default"]["TEST"] = {"NAME": env.str("TEST_DATABASE_NAME", default=None) or None}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis, Celery, Channels ----------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
BROKER_DIR = VAR_DIR / "broker"
EMBEDDED_BROKER_TRANSPORT = "apps.common.broker:Transport"

CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "filesystem://localhost/")
if CELERY_BROKER_URL.startswith("filesystem://"):
    # A broker with no server: messages are files under var/broker (embedded runtime), each
    # published whole (apps/common/broker.py: kombu's own transport let a worker read a half-written one).
    CELERY_BROKER_TRANSPORT = EMBEDDED_BROKER_TRANSPORT
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "control_folder": str(BROKER_DIR / "control"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "store_processed": False,
        "polling_interval": 0.1,
    }
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=REDIS_URL or f"file://{VAR_DIR / 'celery-results'}")
CELERY_RESULT_EXPIRES = 3600
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_ENABLE_UTC = True
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=60)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=90)
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery's Django fixup closes every database connection before and after every task unless
# this is set, so each task paid for a new PostgreSQL connection (~20 ms on the order path).
# tradedesk/celery.py closes them the way Django does between requests instead (unusable, or
# older than CONN_MAX_AGE).
CELERY_DB_REUSE_MAX = 1_000_000
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)

if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            # channels_redis with a group send in two round trips to Redis (apps/web/layers.py)
            "BACKEND": "apps.web.layers.DeskRedisChannelLayer",
            # A consumer waits for its messages in a 5 s blocking pop (channels-redis' brpop_timeout);
            # redis-py's default 5 s socket timeout ended that wait with a TimeoutError and killed
            # every socket idle for 5 s. The read timeout must outlast the pop; a dead Redis is
            # still noticed (keepalive, and the read times out a few seconds after the pop).
            "CONFIG": {
                "hosts": [{"address": REDIS_URL, "socket_timeout": 15, "socket_connect_timeout": 5, "socket_keepalive": True}],
                "prefix": env.str("CHANNELS_PREFIX", default="tradedesk"),
            },
        }
    }
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    # In-memory layer: the relay runs inside the web process (see apps/web/relay.py).
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Desk -----------------------------------------------------------------------------
SIMEXCHANGE_URL = env.str("SIMEXCHANGE_URL", default="http://127.0.0.1:8765")
SIMEXCHANGE_SEED = env.int("SIMEXCHANGE_SEED", default=7)
SIMEXCHANGE_HISTORY_DAYS = env.int("SIMEXCHANGE_HISTORY_DAYS", default=3)
DEMO_BACKFILL_DAYS = env.int("DEMO_BACKFILL_DAYS", default=1)
# The relay runs inside the web process unless a separate `manage.py relay` is deployed.
RELAY_IN_PROCESS = env.bool("RELAY_IN_PROCESS", default=not REDIS_URL)

# --- Trading: how the desk resolves orders whose outcome it does not know -----------------
TRADING_RESOLVE_NOT_FOUND_LOOKUPS = env.int("TRADING_RESOLVE_NOT_FOUND_LOOKUPS", default=3)
TRADING_RESOLVE_SAFE_AGE_S = env.int("TRADING_RESOLVE_SAFE_AGE_S", default=20)
TRADING_RESEND_MAX_AGE_S = env.int("TRADING_RESEND_MAX_AGE_S", default=120)
TRADING_RESOLVE_FIRST_DELAY_S = env.float("TRADING_RESOLVE_FIRST_DELAY_S", default=1)
TRADING_RESOLVE_DOWN_PROBE_S = env.float("TRADING_RESOLVE_DOWN_PROBE_S", default=5)
TRADING_SUBMIT_STUCK_S = env.int("TRADING_SUBMIT_STUCK_S", default=30)
TRADING_VENUE_DOWN_SECONDS = env.int("TRADING_VENUE_DOWN_SECONDS", default=15)
# Holdings reconciliation: an outage longer than this closes the start gate again.
TRADING_GATE_OUTAGE_S = env.int("TRADING_GATE_OUTAGE_S", default=60)
TRADING_HOLDINGS_FAILURES_ALERT = env.int("TRADING_HOLDINGS_FAILURES_ALERT", default=5)
# Circuit breaker per exchange account (order and market-data calls): opens after this many
# failures in a row, lets one probe through after the timeout.
TRADING_BREAKER_FAILURES = env.int("TRADING_BREAKER_FAILURES", default=5)
TRADING_BREAKER_TIMEOUT_S = env.float("TRADING_BREAKER_TIMEOUT_S", default=60)

# --- Research (apps.research): Optuna studies on the `research` queue -------------------
# A running trial writes a heartbeat this often; one silent for the grace period is failed
# (its worker died) and its slot goes to another trial.
RESEARCH_TRIAL_HEARTBEAT_SECONDS = env.int("RESEARCH_TRIAL_HEARTBEAT_SECONDS", default=5)
RESEARCH_TRIAL_GRACE_SECONDS = env.int("RESEARCH_TRIAL_GRACE_SECONDS", default=60)
# Promotion candidate -> paper -> live (apps.research.promotion): the defaults of an account's
# rules (strategies.PromotionPolicy overrides them per account, in the admin).
PROMOTION_PAPER_DAYS = env.int("PROMOTION_PAPER_DAYS", default=14)
PROMOTION_MIN_TRADES = env.int("PROMOTION_MIN_TRADES", default=20)
PROMOTION_MIN_SHARPE = env.str("PROMOTION_MIN_SHARPE", default="0.5")
PROMOTION_MAX_DRAWDOWN_PCT = env.str("PROMOTION_MAX_DRAWDOWN_PCT", default="15")
PROMOTION_MAX_DIVERGENCE_PCT = env.str("PROMOTION_MAX_DIVERGENCE_PCT", default="25")
# Running strategies an account allows at once: a start or promotion beyond it is refused.
MAX_ACTIVE_STRATEGIES = env.int("MAX_ACTIVE_STRATEGIES", default=10)
# Live vs backtest (apps/research/live_vs_backtest.py): a day whose |live - backtest P&L| is more
# than this fraction of the strategy's allocation records `strategy.diverged` (an alert); the
# backtest starts at most this many days before the day (at the first live evaluation if later).
RESEARCH_DIVERGENCE_THRESHOLD = env.str("RESEARCH_DIVERGENCE_THRESHOLD", default="0.02")
RESEARCH_LIVE_VS_BACKTEST_LOOKBACK_DAYS = env.int("RESEARCH_LIVE_VS_BACKTEST_LOOKBACK_DAYS", default=30)

# --- Pair selection (apps.markets.scores): the daily score of every active market ----------
MARKETS_SCORE_LOOKBACK_DAYS = env.int("MARKETS_SCORE_LOOKBACK_DAYS", default=30)
MARKETS_SCORE_WEIGHTS = {
    "volatility": env.float("MARKETS_SCORE_WEIGHT_VOLATILITY", default=1.0),
    "volume": env.float("MARKETS_SCORE_WEIGHT_VOLUME", default=1.0),
    "momentum": env.float("MARKETS_SCORE_WEIGHT_MOMENTUM", default=1.0),
}

# --- Alerts (apps.alerts): delivery to Telegram, Discord, Slack, email and webhooks --------
ALERTS_DISPATCH_EVERY_SECONDS = env.int("ALERTS_DISPATCH_EVERY_SECONDS", default=2)
ALERTS_POLL_SECONDS = env.float("ALERTS_POLL_SECONDS", default=0.2)  # between ticks within one beat period
ALERTS_TICK_BUDGET_SECONDS = env.float("ALERTS_TICK_BUDGET_SECONDS", default=20)
ALERTS_RETRY_ATTEMPTS = env.int("ALERTS_RETRY_ATTEMPTS", default=3)
ALERTS_RETRY_SECONDS = env.float("ALERTS_RETRY_SECONDS", default=5)
ALERTS_TIMEOUT_SECONDS = env.float("ALERTS_TIMEOUT_SECONDS", default=10)
ALERTS_SENDING_STALE_SECONDS = env.float("ALERTS_SENDING_STALE_SECONDS", default=60)
ALERTS_THROTTLE_SECONDS = env.int("ALERTS_THROTTLE_SECONDS", default=300)
ALERTS_GAP_WAIT_SECONDS = env.float("ALERTS_GAP_WAIT_SECONDS", default=2)
ALERTS_BACKLOG_MINUTES = env.int("ALERTS_BACKLOG_MINUTES", default=10)
ALERTS_SEND_THREADS = env.int("ALERTS_SEND_THREADS", default=8)
ALERTS_TELEGRAM_API_URL = env.str("ALERTS_TELEGRAM_API_URL", default="https://api.telegram.org")
# A critical alert nobody acknowledged is sent again every so often (escalation).
# Condition rules (price crosses, P&L, drawdown, daily loss, no fill) are measured this often.
ALERTS_RULES_EVERY_SECONDS = env.int("ALERTS_RULES_EVERY_SECONDS", default=10)
ALERTS_ESCALATE_SECONDS = env.int("ALERTS_ESCALATE_SECONDS", default=15 * 60)
# The desk's address as the trader's browser reaches it: messages link to the alert's page
# (Telegram: an "Open on the desk" button). Blank: no link.
ALERTS_DESK_URL = env.str("ALERTS_DESK_URL", default="")
# Dead man's switch: the desk pings this URL every minute (healthchecks.io style); blank: off.
ALERTS_HEARTBEAT_URL = env.str("ALERTS_HEARTBEAT_URL", default="")
ALERTS_HEARTBEAT_STUCK_SECONDS = env.int("ALERTS_HEARTBEAT_STUCK_SECONDS", default=300)

# --- Auth, i18n, static ---------------------------------------------------------------
# django-axes counts failed logins on every form that authenticates (site, admin, API basic auth).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.float("LOGIN_COOLOFF_MINUTES", default=15))
# Per username and client address together: a stranger cannot lock the admin out from elsewhere.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_LOCKOUT_CALLABLE = "apps.web.lockout.lockout_response"
AXES_RESET_ON_SUCCESS = True
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.str("STATIC_ROOT", default="") or None  # only for collectstatic in production images
STATICFILES_DIRS = [BASE_DIR / "static"]
WHITENOISE_USE_FINDERS = True  # serve straight from static/ without collectstatic

SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=False)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=False)

# --- HTTPS and browser hardening (switches documented in .env.example) ------------------
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
# Probes and the Prometheus scrape call the container over plain HTTP from inside.
SECURE_REDIRECT_EXEMPT = [r"^health", r"^metrics$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
if env.bool("SECURE_PROXY_SSL_HEADER", default=False):
    # Only behind a proxy that sets this header itself (and strips it from clients).
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# The pages load nothing from outside: scripts, styles and fonts come from static/, data from
# our own JSON and websocket. Inline <script>/<style> are refused (no 'unsafe-inline'), except the
# one <style> the vendored lightweight-charts adds for its attribution logo, allowed by its hash
# (a new library version with another style shows up in tests/web/test_csp_browser.py).
CHART_LOGO_STYLE_HASH = "'sha256-3pRED1tOXas1FXFoPb9TGCjmYe9XQsmO9OV23khV2nY='"
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, CHART_LOGO_STYLE_HASH],
        "img-src": [SELF, "data:"],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# --- Email: password reset by email is offered only when a mail server is configured -----
EMAIL_CONFIGURED = bool(env.str("EMAIL_URL", default=""))
if EMAIL_CONFIGURED:
    globals().update(env.email_url("EMAIL_URL"))  # EMAIL_BACKEND, EMAIL_HOST, EMAIL_PORT, …
    DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="tradedesk@localhost")

# --- Metrics: /metrics shows every account's positions and P&L, so it needs a bearer token --
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")

# --- API (apps/api) -------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "apps.api.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["apps.api.permissions.DeskAccess"],
    "DEFAULT_THROTTLE_CLASSES": [
        "apps.api.throttles.SustainedThrottle",
        "apps.api.throttles.BurstThrottle",
        "apps.api.throttles.CommandThrottle",
    ],
    "DEFAULT_FILTER_BACKENDS": ["apps.api.filters.StrictFilterBackend", "apps.api.filters.StrictOrderingFilter"],
    "DEFAULT_PAGINATION_CLASS": "apps.api.pagination.DeskCursorPagination",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "EXCEPTION_HANDLER": "apps.api.errors.api_exception_handler",
    "COERCE_DECIMAL_TO_STRING": True,
    "DATETIME_FORMAT": "iso-8601",
    "UNAUTHENTICATED_USER": None,
}
# Per token (per user on a session): every request, in bursts, and commands (POST).
API_THROTTLE_RATES = {
    "sustained": env.str("API_THROTTLE_SUSTAINED", default="60/min"),
    "burst": env.str("API_THROTTLE_BURST", default="10/s"),
    "commands": env.str("API_THROTTLE_COMMANDS", default="10/min"),
}
# List pages of orders answered from the cache while no order of the reader's accounts changed
# (apps/api/page_cache.py; PostgreSQL only: triggers bump the versions). Seconds a page is kept.
API_PAGE_CACHE = env.bool("API_PAGE_CACHE", default=True)
API_PAGE_CACHE_SECONDS = env.int("API_PAGE_CACHE_SECONDS", default=300)
SPECTACULAR_SETTINGS = {
    "TITLE": "tradedesk API",
    "VERSION": "1.0.0",
    "DESCRIPTION": (
        "Accounts, market data, strategies, signals, orders, fills, positions and risk of the desk, and "
        "the commands a trader sends. Authenticate with `Authorization: Bearer <key>` "
        '(`manage.py api_token create`). Errors: `{"error": {"code", "message", "fields"}}`.'
    ),
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",  # served from static/, no CDN
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "apps.api.schema.error_responses",
        "apps.api.schema.events_documented",
        "apps.api.schema.links_added",
    ],
    "ENUM_NAME_OVERRIDES": {
        "KillStateEnum": "apps.engine.risk_rules.KillState",
        "OrderSideEnum": "apps.trading.models.Side",
        "PositionSideEnum": "apps.trading.models.Position.PositionSide",
        "AlertPriorityEnum": "apps.alerts.models.Priority",
    },
}

# --- Backups (`manage.py backup` / `restore`) -----------------------------------------
BACKUP_DIR = Path(env.str("BACKUP_DIR", default=str(VAR_DIR / "backups")))
BACKUP_KEEP = env.int("BACKUP_KEEP", default=14)

# --- Logging (structlog; JSON outside DEBUG) ------------------------------------------
LOG_FORMAT = env.str("LOG_FORMAT", default="console" if DEBUG else "json")
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")

# Each process also writes JSON lines to var/log/<process>.jsonl (web, worker, beat, relay, or the
# command's name), rotated at LOG_FILE_MAX_BYTES with LOG_FILE_BACKUPS old files kept. Off in tests.
LOG_FILES = env.bool("LOG_FILES", default=not TESTING)
LOG_DIR = Path(env.str("LOG_DIR", default=str(VAR_DIR / "log")))
LOG_FILE_MAX_BYTES = env.int("LOG_FILE_MAX_BYTES", default=10 * 1024 * 1024)
LOG_FILE_BACKUPS = env.int("LOG_FILE_BACKUPS", default=5)

from apps.common.logging import LogFiles, configure_logging, process_name  # noqa: E402 - logging is configured once every setting above is known

LOGGING = configure_logging(
    log_format=LOG_FORMAT,
    level=LOG_LEVEL,
    files=LogFiles(folder=LOG_DIR, process=process_name(), max_bytes=LOG_FILE_MAX_BYTES, backups=LOG_FILE_BACKUPS)
    if LOG_FILES
    else None,
)
# Celery's false "must be restarted" during a Redis outage becomes a true warning (see the filter).
LOGGING.setdefault("filters", {})["result_store_reconnect"] = {"()": "apps.common.log_filters.ResultStoreReconnectNotice"}
for _logger in ("celery.backends.asynchronous", "celery.beat"):
    LOGGING["loggers"][_logger] = {"filters": ["result_store_reconnect"]}
# django-axes announces itself at every start of every command; its login attempts stay logged.
LOGGING["loggers"]["axes.apps"] = {"level": "WARNING"}
