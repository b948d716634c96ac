"""Settings, all from the environment (see .env.example); unset integrations fall back to
the embedded defaults of config/embedded.py."""

from __future__ import annotations

import secrets
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from config import env
from config.embedded import ANVIL_DEV_KEYS, Layout

BASE_DIR = Path(__file__).resolve().parent.parent
EMBEDDED = Layout.from_env()
VAR_DIR = EMBEDDED.var_dir

# --- integrations: an external service when its variable is set, else the embedded one ---
_mongodb_uri = env.env_url("MONGODB_URI", ("mongodb", "mongodb+srv"))
EMBEDDED_DB = _mongodb_uri is None
MONGODB_URI: str = _mongodb_uri or EMBEDDED.db_uri
MONGODB_NAME = env.env_str("MONGODB_NAME", "nfvm") or "nfvm"
DB_TIMEOUT_MS = env.env_int("DB_TIMEOUT_MS", 2000, minimum=100)

_eth_rpc_url = env.env_url("ETH_RPC_URL", ("http", "https"))
EMBEDDED_CHAIN = _eth_rpc_url is None
ETH_RPC_URL: str = _eth_rpc_url or EMBEDDED.rpc_url
CHAIN_TIMEOUT_S = env.env_float("CHAIN_TIMEOUT_S", 3.0, minimum=0.1)
# The node URL the portal's `nfvm verify` hints name. Embedded, the local anvil; a deployment names one only
# when told to (ETH_RPC_URL may carry an API key, and a verifier is better off with a node of its own).
PUBLIC_RPC_URL: str = env.env_url("PUBLIC_RPC_URL", ("http", "https")) or (EMBEDDED.rpc_url if EMBEDDED_CHAIN else "")
# The portal offers a development wallet of anvil's test accounts: on by default in embedded mode,
# and never on a chain other than anvil's development chain id (ledger/devwallet.py checks).
DEV_WALLET = env.env_bool("DEV_WALLET", EMBEDDED_CHAIN)
# Blocks an event must be buried under before the indexer records it (anvil mines no competing blocks).
INDEXER_CONFIRMATIONS = env.env_int("INDEXER_CONFIRMATIONS", 0 if EMBEDDED_CHAIN else 2, minimum=0)
INDEXER_POLL_S = env.env_float("INDEXER_POLL_S", 1.0, minimum=0.05)
INDEXER_BATCH_BLOCKS = env.env_int("INDEXER_BATCH_BLOCKS", 2000, minimum=1)
# Signed registrations queued for a batch are anchored when the oldest waited this long, or the queue is full.
REGISTRATION_BATCH_WINDOW_S = env.env_float("REGISTRATION_BATCH_WINDOW_S", 10.0, minimum=0.0)
REGISTRATION_BATCH_MAX = env.env_int("REGISTRATION_BATCH_MAX", 256, minimum=1)
# Seconds a line claim's commitment waits on chain before its reveal (ENS's registrar: 60). Set when the
# PackageRegistry is deployed; a front-runner who sees a reveal would need a commitment this old.
LINE_CLAIM_MIN_AGE_S = env.env_int("LINE_CLAIM_MIN_AGE_S", 60, minimum=1, maximum=3600)
# Provenance log entries are anchored when the oldest unanchored waited this long (s), or this many wait.
PROVENANCE_ANCHOR_WINDOW_S = env.env_float("PROVENANCE_ANCHOR_WINDOW_S", 30.0, minimum=0.0)
# How old an answer of the licence status endpoint may be (0: decided afresh each time). It is a read: the
# instantiation itself always decides afresh, and the LicenseManager contract enforces the seats.
ENTITLEMENT_MAX_AGE_S = env.env_float("ENTITLEMENT_MAX_AGE_S", 1.0, minimum=0.0, maximum=60.0)
PROVENANCE_BATCH = env.env_int("PROVENANCE_BATCH", 1024, minimum=1)

# The operator signs anchoring and relayed transactions. anvil's development key is used
# only against the embedded chain; any other chain needs an encrypted keystore.
OPERATOR_KEY: str | None = None
OPERATOR_KEYSTORE: Path | None = None
OPERATOR_KEYSTORE_PASSWORD: str | None = None
if EMBEDDED_CHAIN:
    OPERATOR_KEY = ANVIL_DEV_KEYS[0]
else:
    _why = "ETH_RPC_URL names an external chain, so the operator key must come from an encrypted keystore"
    OPERATOR_KEYSTORE = env.env_file("OPERATOR_KEYSTORE", _why)
    OPERATOR_KEYSTORE_PASSWORD = env.env_required("OPERATOR_KEYSTORE_PASSWORD", _why)

# --- NFV Repository ---
PACKAGE_MAX_BYTES = env.env_int("PACKAGE_MAX_BYTES", 4 * 1024**3, minimum=1024)
PACKAGE_MAX_ENTRIES = env.env_int("PACKAGE_MAX_ENTRIES", 10_000, minimum=1)
PACKAGE_MAX_RATIO = env.env_float("PACKAGE_MAX_RATIO", 100.0, minimum=1.0)
# Where package archives are kept, content-addressed: "files" (a folder, as OCI registries keep blobs; the
# embedded default) or "gridfs" (in the database, so every application server of a MongoDB deployment reads them).
BLOB_STORE = env.env_choice("BLOB_STORE", ("files", "gridfs"), "files" if EMBEDDED_DB else "gridfs")
BLOB_DIR = Path(env.env_str("BLOB_DIR", str(VAR_DIR / "blobs")) or "")
UPLOAD_TMP_DIR = Path(env.env_str("UPLOAD_TMP_DIR", str(VAR_DIR / "tmp")) or "")
UPLOAD_TMP_DIR.mkdir(parents=True, exist_ok=True)
FILE_UPLOAD_TEMP_DIR = str(UPLOAD_TMP_DIR)
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024  # larger uploads stream to UPLOAD_TMP_DIR
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

# --- Orchestrator (unset OSM_NBI_URL: the tracking-only driver, which deploys nothing) ---
OSM_NBI_URL = env.env_url("OSM_NBI_URL", ("http", "https"))
OSM_USERNAME = env.env_str("OSM_USERNAME", "admin") or "admin"
OSM_PASSWORD = env.env_str("OSM_PASSWORD", "") or ""
OSM_PROJECT = env.env_str("OSM_PROJECT", "admin") or "admin"
OSM_VIM_ACCOUNT = env.env_str("OSM_VIM_ACCOUNT", "") or ""

# --- Sign-in ---
SIGNIN_NONCE_TTL_S = env.env_int("SIGNIN_NONCE_TTL_S", 600, minimum=30)
API_TOKEN_TTL_S = env.env_int("API_TOKEN_TTL_S", 8 * 3600, minimum=60)

# --- Django core ---
DEBUG = env.env_bool("DJANGO_DEBUG", False)
_secret = env.env_str("DJANGO_SECRET_KEY")
if _secret is None:
    if not (EMBEDDED_DB and EMBEDDED_CHAIN):
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY must be set when MONGODB_URI or ETH_RPC_URL is set (a deployment)"
        )
    # Embedded mode: a random key made once and kept beside the embedded data.
    _key_file = VAR_DIR / "secret_key"
    if not _key_file.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        _key_file.touch(mode=0o600)
        _key_file.write_text(secrets.token_urlsafe(50))
    _secret = _key_file.read_text().strip()
SECRET_KEY = _secret
ALLOWED_HOSTS = env.env_list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "config.apps.MongoAuthConfig",
    "config.apps.MongoContentTypesConfig",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_mongodb_backend",
    "django_htmx",
    "ninja",  # its Swagger UI is served from static files (no CDN), under the CSP
    "template_partials",
    "ledger",
    "marketplace",
    "dportal",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "config.middleware.ContentSecurityPolicyMiddleware",
    "dportal.errors.PortalErrors",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
                "dportal.context.portal",
            ],
        },
    },
]

DATABASES = {
    "default": {
        "ENGINE": "django_mongodb_backend",
        "HOST": MONGODB_URI,
        "NAME": MONGODB_NAME,
        "OPTIONS": {
            # Fail in seconds, not pymongo's default 30 s, so health checks answer promptly.
            "serverSelectionTimeoutMS": DB_TIMEOUT_MS,
            "connectTimeoutMS": DB_TIMEOUT_MS,
            # An acknowledged write is on disk: the fault tests lost a sign-in a second old to a kill -9 of
            # the embedded database without this (tests/config/test_faults.py).
            "journal": True,
        },
    },
}
DEFAULT_AUTO_FIELD = "django_mongodb_backend.fields.ObjectIdAutoField"
MIGRATION_MODULES = {
    "auth": "mongo_migrations.auth",
    "contenttypes": "mongo_migrations.contenttypes",
}

SESSION_ENGINE = "django.contrib.sessions.backends.db"
SESSION_COOKIE_AGE = env.env_int("SESSION_COOKIE_AGE", 8 * 3600, minimum=60)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SECURE = env.env_bool("DJANGO_SECURE", False)  # behind TLS in production
SESSION_COOKIE_SECURE = SECURE
CSRF_COOKIE_SECURE = SECURE
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env.env_str("STATIC_ROOT", str(VAR_DIR / "staticfiles")) or "")
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
WHITENOISE_USE_FINDERS = True  # serve from static/ directly; collectstatic is for deployments
WHITENOISE_AUTOREFRESH = DEBUG

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.env_str("LOG_LEVEL", "INFO") or "INFO"},
}
