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
  another supervisor (default 240, longer than a send can take).
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


#: The default lease: longer than a send can take (``longest_send``, 220 s with the client's
#: settings), or a claimant whose send hangs and then goes through shares its tick with the
#: supervisor that took the claim over: the tick is sent twice.
DEFAULT_LEASE = 240
#: The look for expired claims, every half lease but at least this often.
SCAN_AT_MOST_EVERY = dt.timedelta(seconds=30)


def lease() -> dt.timedelta:
    return dt.timedelta(seconds=getattr(settings, "SQS_SCHEDULE_LEASE", DEFAULT_LEASE))


def longest_send() -> float:
    """Seconds one SendMessage may take before it fails: every attempt (the retries of the
    client's config) timing out on connect and on read, with the longest backoff between
    them (botocore's standard mode caps it at 20 s)."""
    from ..client import client_config

    cfg = client_config()
    retries = (cfg.retries or {}).get("total_max_attempts", (cfg.retries or {}).get("max_attempts", 4) + 1) - 1
    return (retries + 1) * (cfg.connect_timeout + cfg.read_timeout) + retries * 20


def keep() -> dt.timedelta:
    return dt.timedelta(seconds=getattr(settings, "SQS_SCHEDULE_KEEP", 86400))
