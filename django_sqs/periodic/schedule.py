"""``Schedule``: one declared schedule, what it fires and when. A declaration only.

A schedule's target is one of:

- ``queue``: a registered queue name; each tick sends ``body`` (default: the tick's UTC
  time in ISO 8601) with the queue's message class;
- ``task``: a ``django.tasks`` task's module path; each tick enqueues it with ``args``
  and ``kwargs``;
- ``function``: a function's ``module.qualname``, written by ``@periodic`` placed *under*
  ``@receiver`` or ``@task`` (it runs before the function is wrapped); resolved to the
  queue whose receiver it is, or the task at that path, when the schedule is used.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

CATCH_UP_POLICIES = ("none", "last", "all")
#: ``catch_up="all"`` fires at most this many missed ticks (the most recent ones).
DEFAULT_CATCH_UP_LIMIT = 100
#: EventBridge Scheduler's rule for a schedule name (1–64 of [0-9A-Za-z_.-]); the same
#: name goes into a message attribute and into the claims table, so one rule for both modes.
NAME_RE = re.compile(r"^[0-9A-Za-z_.\-]{1,64}$")


class ScheduleError(ValueError):
    """A schedule that cannot work; the message says why (system checks report them)."""


@dataclasses.dataclass
class Schedule:
    name: str
    kind: str  # "queue" | "task" | "function"
    target: str
    cron: str | None = None
    every: dt.timedelta | None = None
    timezone: str = "UTC"
    catch_up: str = "last"
    catch_up_limit: int = DEFAULT_CATCH_UP_LIMIT
    body: Any = None
    args: list = dataclasses.field(default_factory=list)
    kwargs: dict = dataclasses.field(default_factory=dict)
    #: FIFO targets: the message group of every tick (default: the schedule's name).
    group_id: str | None = None
    #: Where it was declared ("@periodic on shop.reports.nightly", "SQS_SCHEDULES['x']").
    origin: str = ""

    @property
    def expression(self) -> str:
        if self.cron is not None:
            return f"cron {self.cron}"
        return f"every {_seconds(self.every)}s"

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def interval_seconds(self) -> float | None:
        return self.every.total_seconds() if self.every is not None else None

    def problems(self) -> list[str]:
        """What is wrong with the declaration itself (not its target); empty when fine."""
        found = []
        if not isinstance(self.name, str) or not NAME_RE.match(self.name):
            found.append(
                f"name {self.name!r} is not 1–64 characters of letters, digits, '-', '_' and '.' "
                "(EventBridge Scheduler's rule, kept in both modes so a schedule can move between them)"
            )
        if (self.cron is None) == (self.every is None):
            found.append("give exactly one of cron=... and every=...")
        if self.cron is not None:
            from .cron import cron_problem

            problem = cron_problem(self.cron)
            if problem:
                found.append(f"cron expression {self.cron!r} is invalid: {problem}")
        if self.every is not None:
            if not isinstance(self.every, dt.timedelta):
                found.append(f"every must be a timedelta, not {type(self.every).__name__}")
            elif self.every.total_seconds() < 1 or self.every.total_seconds() != int(self.every.total_seconds()):
                found.append(f"every must be a whole number of seconds, at least 1; got {self.every}")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            found.append(f"timezone {self.timezone!r} is not an IANA time zone name")
        if self.catch_up not in CATCH_UP_POLICIES:
            found.append(f"catch_up must be one of {', '.join(CATCH_UP_POLICIES)}; got {self.catch_up!r}")
        if not isinstance(self.catch_up_limit, int) or self.catch_up_limit < 1:
            found.append(f"catch_up_limit must be a positive int; got {self.catch_up_limit!r}")
        return found


def _seconds(every: Any) -> Any:
    total = every.total_seconds() if isinstance(every, dt.timedelta) else every
    return int(total) if isinstance(total, float) and total.is_integer() else total


def as_timedelta(every: Any) -> Any:
    """``every`` as given in SQS_SCHEDULES: a timedelta or a number of seconds."""
    if isinstance(every, (int, float)) and not isinstance(every, bool):
        return dt.timedelta(seconds=every)
    return every
