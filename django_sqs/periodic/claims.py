"""Mode B's claims: one row per (schedule, tick) in the table of ``django_sqs.schedules``.

Two atomic statements, no lock held while sending:

- **claim**: ``INSERT … ON CONFLICT DO NOTHING`` of the (schedule, tick) row under a
  unique constraint, then a read of the row: one supervisor's insert wrote it, the
  others' did nothing, and the row names who claimed (on a database without ``ON
  CONFLICT``, a plain insert whose ``IntegrityError`` means another claimed).
- **recover**: a row still unsent a lease after its claim belongs to a claimant that died
  (or hangs) between claim and send. It is taken over with a compare-and-set ``UPDATE``
  (``WHERE claimed_at = <the value read> AND sent_at IS NULL``): of several supervisors
  that see it, one updates one row, the others none.

django-periodic-tasks claims with ``SELECT … FOR UPDATE SKIP LOCKED`` inside the
transaction that runs the job; here the job is only a send to SQS, and holding a row lock
(and a transaction) across a network request would tie the database to SQS's latency.
The insert and the compare-and-set are atomic on every database Django supports.

The model is looked up by app label (``apps.get_model``) so this module sits below the
app, whose admin shows the next ticks computed here.
"""

from __future__ import annotations

import datetime as dt

from django.apps import apps
from django.db import IntegrityError, connections, router
from django.db.models import F, Max
from django.utils import timezone

APP_LABEL = "django_sqs_schedules"
APP = "django_sqs.schedules"


def model():
    return apps.get_model(APP_LABEL, "ScheduleTick")


def last_tick(name: str) -> dt.datetime | None:
    return model().objects.filter(schedule=name).aggregate(last=Max("tick"))["last"]


def claim(name: str, tick: dt.datetime, claimant: str):
    """The new row if this process claimed ``tick``, None if another had."""
    ticks = model()
    row = ticks(schedule=name, tick=tick, claimed_by=claimant, claimed_at=timezone.now())
    if not connections[router.db_for_write(ticks)].features.supports_ignore_conflicts:
        try:
            row.save(force_insert=True)
        except IntegrityError:
            return None
        return row
    # INSERT … ON CONFLICT DO NOTHING, then read who holds it: every supervisor tries every
    # tick, and the losers' failed inserts would each write an error to the database's log.
    ticks.objects.bulk_create([row], ignore_conflicts=True)
    held = ticks.objects.filter(schedule=name, tick=tick).first()
    if held is None or held.claimed_by != claimant or held.claimed_at != row.claimed_at:
        return None
    return held


def mark_sent(row, message_id: str) -> None:
    model().objects.filter(pk=row.pk).update(sent_at=timezone.now(), message_id=message_id[:100], error="")


def mark_failed(row, error: str) -> None:
    """Keep the row unsent (it is recovered after the lease) and say why."""
    model().objects.filter(pk=row.pk).update(error=error[:2000])


def expired(lease: dt.timedelta, limit: int = 50) -> list:
    """Unsent rows claimed longer than ``lease`` ago: their claimant is gone."""
    cutoff = timezone.now() - lease
    return list(model().objects.filter(sent_at__isnull=True, claimed_at__lt=cutoff).order_by("tick")[:limit])


def take_over(row, claimant: str) -> bool:
    """Claim an expired row again; True for the one process whose update matched."""
    updated = model().objects.filter(pk=row.pk, sent_at__isnull=True, claimed_at=row.claimed_at).update(
        claimed_by=claimant, claimed_at=timezone.now(), claims=F("claims") + 1,
    )
    return updated == 1


def prune(name: str, before: dt.datetime) -> int:
    """Delete sent rows of ``name`` older than ``before``, keeping its latest row (the
    catch-up after a restart starts from it)."""
    latest = last_tick(name)
    if latest is None:
        return 0
    cutoff = min(before, latest)
    deleted, _ = model().objects.filter(schedule=name, tick__lt=cutoff, sent_at__isnull=False).delete()
    return deleted
