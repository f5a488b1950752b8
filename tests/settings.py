"""Settings for the test suite: sqlite by default, PostgreSQL when DJANGO_SQS_TEST_DB=postgresql."""

import json
import os
from pathlib import Path

import django

BASE_DIR = Path(__file__).resolve().parent

SECRET_KEY = "django_sqs tests, not secret"
DEBUG = False
USE_TZ = True
ALLOWED_HOSTS = ["*"]

INSTALLED_APPS = [
    # The SQS dashboard lives in the admin (tests/test_dashboard*.py).
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    # Serves the admin's CSS to the live server of the dashboard's browser test.
    "django.contrib.staticfiles",
    "django_sqs",
    "django_sqs.tasks.results",
    "django_sqs.schedules",
    "tests",
]
if django.VERSION < (6, 0):
    # The django-tasks backport's app registers its system checks (Django 6 has them built in).
    INSTALLED_APPS.insert(-1, "django_tasks")
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": ["django.template.context_processors.request", "django.contrib.auth.context_processors.auth", "django.contrib.messages.context_processors.messages"]},
    }
]
ROOT_URLCONF = "tests.urls"
STATIC_URL = "/static/"
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

# Worker subprocesses started by the tests are told the test database's name.
_db_name = os.environ.get("DJANGO_SQS_TEST_DB_NAME")
if os.environ.get("DJANGO_SQS_TEST_DB", "sqlite") == "postgresql":
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "HOST": os.environ.get("PGHOST", "127.0.0.1"),
            "PORT": os.environ.get("PGPORT", "5432"),
            "USER": os.environ.get("PGUSER", "postgres"),
            "NAME": _db_name or "test",
        }
    }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": _db_name or str(BASE_DIR / "db.sqlite3"),
            # A file, not memory, so worker subprocesses see the same database.
            "TEST": {"NAME": str(BASE_DIR / f"test-{os.getpid()}.sqlite3")},
        }
    }

# Worker subprocesses started by the tests learn the local server's URL from the environment.
SQS_ENDPOINT_URL = os.environ.get("DJANGO_SQS_TEST_ENDPOINT") or None
if os.environ.get("DJANGO_SQS_TEST_CONN_MAX_AGE"):
    DATABASES["default"]["CONN_MAX_AGE"] = None

SQS_QUEUE_PREFIX = "t"
SQS_REGION = "us-east-1"
SQS_POLL_PERIOD = int(os.environ.get("DJANGO_SQS_TEST_POLL", "0"))
# Worker subprocesses started by the tests are told the test's worker groups.
SQS_WORKERS = json.loads(os.environ.get("DJANGO_SQS_TEST_WORKERS", "[]"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"django_sqs": {"handlers": ["console"], "level": os.environ.get("DJANGO_SQS_LOG_LEVEL", "INFO")}},
}

# The SQS tasks backend (tests/tasks.py); tests change OPTIONS with override_settings.
TASKS = {
    "default": {
        "BACKEND": "django_sqs.tasks.SQSBackend",
        "QUEUES": ["default", "emails", "orders.fifo"],
        "OPTIONS": {
            "RESULT_STORE": "django_sqs.tasks.results.DatabaseResultStore",
            # Worker subprocesses started by the tests are told the test's OPTIONS.
            **json.loads(os.environ.get("DJANGO_SQS_TEST_TASK_OPTIONS", "{}")),
        },
    },
}
