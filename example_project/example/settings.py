"""Settings of the example project: sqlite, DEBUG, and SQS on whatever endpoint the
environment names (``SQS_ENDPOINT_URL``: the demo's local server, ElasticMQ, …)."""

import os
from pathlib import Path

import django

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = "django_sqs example project, not a secret"
DEBUG = True
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_sqs",
    "django_sqs.tasks.results",  # the tasks' result store (OPTIONS["RESULT_STORE"] below)
    "shop",
]
if django.VERSION < (6, 0):
    INSTALLED_APPS.insert(-1, "django_tasks")  # the backport of django.tasks
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
ROOT_URLCONF = "example.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        # The demo uses a database of its own in a temporary directory.
        "NAME": os.environ.get("DJANGO_SQS_EXAMPLE_DB") or str(BASE_DIR / "db.sqlite3"),
        # The demo's worker runs one process per queue, all writing to this file.
        "OPTIONS": {"timeout": 30},
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
STATIC_URL = "static/"
# The status view sends anonymous users here.
LOGIN_URL = "admin:login"

# django_sqs. A prefix is required with DEBUG on (check django_sqs.E002): it keeps a
# developer's queues apart from everyone else's on a shared AWS account.
SQS_QUEUE_PREFIX = os.environ.get("SQS_QUEUE_PREFIX", "example")
SQS_ENDPOINT_URL = os.environ.get("SQS_ENDPOINT_URL") or None
SQS_REGION = os.environ.get("SQS_REGION", "us-east-1")

# Django tasks (shop/tasks.py) on SQS: the task queue "default" is the SQS queue
# example__tasks__default__default, served by runreceiver like any queue.
TASKS = {
    "default": {
        "BACKEND": "django_sqs.tasks.SQSBackend",
        "QUEUES": ["default"],
        "OPTIONS": {
            "MAX_ATTEMPTS": 3,
            "RESULT_STORE": "django_sqs.tasks.results.DatabaseResultStore",
        },
    }
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"short": {"format": "%(levelname)-7s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "short"}},
    "loggers": {
        "django_sqs": {"handlers": ["console"], "level": "INFO"},
        "shop": {"handlers": ["console"], "level": "INFO"},
    },
}
