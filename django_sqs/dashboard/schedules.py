"""The schedules whose ticks go to one queue, as the queue page shows them.

A schedule targets a queue directly (``SQS_SCHEDULES``' ``"queue"``, ``@periodic`` on a
receiver) or through a task (its backend alias and task queue name the registered queue).
In mode B (``SQS_SCHEDULE_MODE = "workers"``) the last claimed tick comes from the claims
table of ``django_sqs.schedules`` when that app is installed; a database that cannot be
read becomes a note on the page, never an error page (the rest of it is SQS's).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging

from django.apps import apps
from django.db import DatabaseError
from django.utils import timezone

from ..periodic import claims, config
from ..periodic.cron import next_ticks
from ..periodic.declarations import all_schedules, resolve
from ..periodic.schedule import Schedule, ScheduleError

logger = logging.getLogger(__name__)

MODES = {"workers": "B (runreceiver --schedules)", "eventbridge": "A (EventBridge Scheduler)"}
DATABASE_NOTE = "The last claimed ticks could not be read from the database."


@dataclasses.dataclass
class Shown:
    schedule: Schedule
    next_tick: dt.datetime
    last_tick: dt.datetime | None = None
    sent: bool | None = None


@dataclasses.dataclass
class Section:
    schedules: list[Shown]
    mode: str
    #: Mode B with the claims app installed: the page has a "last claimed tick" column.
    claims: bool
    note: str | None = None


def _queue_of(schedule: Schedule) -> str | None:
    """The registered name of the queue the schedule's ticks go to; None when its target
    does not resolve (the system checks say why)."""
    try:
        kind, target = resolve(schedule)
    except ScheduleError:
        return None
    if kind == "queue":
        return target.name
    from ..tasks.queues import queue_name

    return queue_name(target.backend, target.queue_name)


def for_queue(registered_name: str) -> Section:
    mode = config.mode()
    now = timezone.now()
    shown = [
        Shown(s, next_ticks(s, now, 1)[0])
        for s in all_schedules()
        if not s.problems() and _queue_of(s) == registered_name
    ]
    section = Section(shown, MODES.get(mode, mode), mode == "workers" and apps.is_installed(claims.APP))
    if not (section.claims and shown):
        return section
    try:
        for row in shown:
            last = claims.model().objects.filter(schedule=row.schedule.name).order_by("-tick").first()
            if last is not None:
                row.last_tick, row.sent = last.tick, last.sent_at is not None
    except DatabaseError:
        logger.exception("dashboard: reading the schedule claims of %s failed", registered_name)
        section.note = DATABASE_NOTE
    return section
