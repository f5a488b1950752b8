"""Settings for the benchmark workers: the bench app's receivers, no database, the
local server's URL and the poll period from the environment (``bench/run.py`` sets them)."""

import importlib.util
import json
import os

import django

SECRET_KEY = "django_sqs benchmarks, not secret"
DEBUG = False
USE_TZ = True
ALLOWED_HOSTS = ["*"]

INSTALLED_APPS = [
    "django_sqs",
    "bench",
]
# No database: the no-op receivers touch none, and so neither do the workers.
DATABASES = {}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

SQS_ENDPOINT_URL = os.environ.get("BENCH_SQS_ENDPOINT") or None
# Each run of a case gets a queue of its own: a worker stopped during a long poll leaves
# that poll running at the server, where it may still take messages of the next run.
SQS_QUEUE_URLS = json.loads(os.environ.get("BENCH_QUEUE_URLS") or "{}")
SQS_QUEUE_PREFIX = "bench"
SQS_REGION = "us-east-1"
SQS_POLL_PERIOD = int(os.environ.get("BENCH_POLL_PERIOD", "20"))

# Django tasks (bench/tasks.py): django_sqs's backend, no result store (no database);
# and django-tasks-sqs under the alias "peer" when it is installed (Django 6, Python 3.12+).
TASKS = {"default": {"BACKEND": "django_sqs.tasks.SQSBackend", "QUEUES": ["noop"]}}
if django.VERSION < (6, 0):
    INSTALLED_APPS.insert(0, "django_tasks")
if django.VERSION >= (6, 0) and importlib.util.find_spec("django_tasks_sqs"):
    INSTALLED_APPS.append("django_tasks_sqs")  # its sqs_worker command
    TASKS["peer"] = {
        "BACKEND": "django_tasks_sqs.SQSBackend",
        "QUEUES": ["noop"],
        "OPTIONS": {
            "queue_urls": {"noop": os.environ.get("BENCH_PEER_QUEUE_URL", "http://unset")},
            "endpoint_url": SQS_ENDPOINT_URL,
            "region_name": "us-east-1",
        },
    }

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"django_sqs": {"handlers": ["console"], "level": "INFO"}},
}
