"""Settings for the periodic-work benchmark (``bench/periodic.py``): the bench settings plus
a database for the claims (a SQLite file, or PostgreSQL when BENCH_PG_NAME names a
database), the schedules app, and the schedules from the environment."""

import json
import os

from bench.settings import *  # noqa: F403
from bench.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "django_sqs.schedules"]
SQS_RECEIVER_MODULES = ["receivers", "periodic_receivers"]
if os.environ.get("BENCH_PG_NAME"):
    DATABASES = {"default": {
        "ENGINE": "django.db.backends.postgresql", "HOST": "127.0.0.1", "PORT": "5432", "USER": "postgres",
        "NAME": os.environ["BENCH_PG_NAME"],
    }}
else:
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.environ.get("BENCH_DB", "/tmp/bench-periodic.sqlite3")}}
SQS_SCHEDULES = json.loads(os.environ.get("BENCH_SCHEDULES", "{}"))
