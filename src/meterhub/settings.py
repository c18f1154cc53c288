"""Django settings. Everything deployment-specific comes from the environment.

DATABASE_URL       embedded SQLite under var/ when unset; postgresql://... in production
METERHUB_VAR       state directory (default ./var)
METERHUB_DEBUG     1 for development error pages
METERHUB_FIELD_KEYS comma-separated Fernet keys for protocol passwords and personal data
                   (first one encrypts; others still decrypt, for rotation); default var/field.key
METERHUB_ALLOWED_HOSTS comma-separated host names (default: any, for a LAN appliance)
METERHUB_API_RATE_LIMIT API requests per caller per window (default 600; METERHUB_API_RATE_WINDOW_S, 60)
METERHUB_CHECKOUT_MAX  the most one online recharge order may pay (default 10000.00)
METERHUB_CHECKOUT_PROVIDER code of the payment provider online orders go to (default: the first with a page)
METERHUB_SANDBOX_WEBHOOK_BASE where the sandbox provider posts its webhook (default: the request's own host)
"""

from __future__ import annotations

import os
from pathlib import Path

from meterhub import config

BASE_DIR = Path(__file__).resolve().parent
VAR_DIR = config.var_dir()

SECRET_KEY = config.secret_key()
DEBUG = os.environ.get("METERHUB_DEBUG") == "1"
ALLOWED_HOSTS = os.environ.get("METERHUB_ALLOWED_HOSTS", "*").split(",")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "meterhub.accounts",
    "meterhub.assets",
    "meterhub.comms",
    "meterhub.readings",
    "meterhub.vee",
    "meterhub.alarms",
    "meterhub.notifications",
    "meterhub.seals",
    "meterhub.aggregates",
    "meterhub.billing",
    "meterhub.portal",
    "meterhub.kiosk",
    "meterhub.web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "meterhub.web.middleware.RefuseNulCharacters",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "meterhub.accounts.middleware.RequestContextMiddleware",
    "meterhub.web.middleware.DisplayTimeZoneMiddleware",
]

ROOT_URLCONF = "meterhub.web.urls"
ASGI_APPLICATION = "meterhub.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "meterhub.web.context.console",
            ],
        },
    },
]

DATABASES = {"default": config.database_from_url(os.environ.get("DATABASE_URL"))}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = ["meterhub.accounts.backends.LockoutBackend"]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"
SESSION_COOKIE_AGE = 8 * 3600  # one shift
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
     "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
]

# Lock an account after this many failed logins within the window (accounts.backends).
LOGIN_FAILURE_LIMIT = int(os.environ.get("METERHUB_LOGIN_FAILURE_LIMIT", "5"))
LOGIN_FAILURE_WINDOW_S = 15 * 60
LOGIN_LOCKOUT_S = 15 * 60

# API requests per caller (token or console session) per fixed window (api/ratelimit.py).
API_RATE_LIMIT = int(os.environ.get("METERHUB_API_RATE_LIMIT", "600"))
API_RATE_WINDOW_S = int(os.environ.get("METERHUB_API_RATE_WINDOW_S", "60"))

# Online recharge orders (billing/checkout.py) and the sandbox provider (billing/sandbox.py).
CHECKOUT_MAX_AMOUNT = os.environ.get("METERHUB_CHECKOUT_MAX", "10000.00")
CHECKOUT_ORDER_TTL_S = 15 * 60
CHECKOUT_PROVIDER = os.environ.get("METERHUB_CHECKOUT_PROVIDER", "")
SANDBOX_WEBHOOK_BASE = os.environ.get("METERHUB_SANDBOX_WEBHOOK_BASE", "")

# Self-service terminals (kiosk/): how often a kiosk page reports in, and how recent its last
# report must be for the console to call it online.
KIOSK_HEARTBEAT_S = int(os.environ.get("METERHUB_KIOSK_HEARTBEAT_S", "15"))
KIOSK_ONLINE_WITHIN_S = int(os.environ.get("METERHUB_KIOSK_ONLINE_WITHIN_S", "60"))

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("zh-hans", "简体中文")]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = "UTC"
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
WHITENOISE_USE_FINDERS = True  # serve straight from the apps: no collectstatic step
MEDIA_ROOT = VAR_DIR / "media"
FILE_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 20 * 1024 * 1024

FIELD_ENCRYPTION_KEYS = [
    k.strip() for k in os.environ.get("METERHUB_FIELD_KEYS", "").split(",") if k.strip()
]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("METERHUB_LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
