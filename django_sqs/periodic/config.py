"""The settings of periodic work (all optional), read when used.

- ``SQS_SCHEDULE_MODE``: ``"workers"`` (mode B, default: ``runreceiver --schedules`` fires
  the ticks, claimed in the database) or ``"eventbridge"`` (mode A: ``manage.py
  sqs_sync_schedules`` hands them to EventBridge Scheduler; ``runreceiver --schedules``
  then refuses to start, or every tick would be sent twice).
- ``SQS_SCHEDULER_ROLE_ARN``: mode A, the IAM role EventBridge Scheduler assumes to send
  to the queues (it needs ``sqs:SendMessage`` on them).
- ``SQS_SCHEDULE_GROUP``: mode A, the schedule group (default: ``SQS_QUEUE_PREFIX``, or
  ``"django_sqs"`` without a prefix).
- ``SQS_SCHEDULE_LEASE``: mode B, seconds after which an unsent claim is taken over by
  another supervisor (default 60).
- ``SQS_SCHEDULE_KEEP``: mode B, seconds a sent claim row is kept (default 86400).
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings

MODES = ("workers", "eventbridge")


def mode() -> str:
    return getattr(settings, "SQS_SCHEDULE_MODE", "workers")


def role_arn() -> str | None:
    return getattr(settings, "SQS_SCHEDULER_ROLE_ARN", None)


def group_name() -> str:
    explicit = getattr(settings, "SQS_SCHEDULE_GROUP", None)
    return explicit or getattr(settings, "SQS_QUEUE_PREFIX", "") or "django_sqs"


def lease() -> dt.timedelta:
    return dt.timedelta(seconds=getattr(settings, "SQS_SCHEDULE_LEASE", 60))


def keep() -> dt.timedelta:
    return dt.timedelta(seconds=getattr(settings, "SQS_SCHEDULE_KEEP", 86400))
