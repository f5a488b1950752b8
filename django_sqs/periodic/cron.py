"""When a schedule fires: next-tick arithmetic and the catch-up policies.

Cron expressions are parsed and stepped by **cronsim** (by the author of Healthchecks.io).
Chosen over croniter, whose maintainer archived it in 2024 before others took it over, and
over APScheduler's ``CronTrigger``, which comes with a whole scheduler (job stores,
executors) we do not use: cronsim is one small pure-Python module, well tested against
Debian's cron, time-zone aware through ``zoneinfo``, and with its DST behaviour documented.

Times are aware datetimes. A cron expression is read in the schedule's time zone; the
ticks come out in UTC. What happens on the days the clocks change (cronsim's rules, which
are Debian cron's, tested in ``tests/test_periodic_cron.py``):

- the **skipped hour** (spring forward): a tick that would fall in it fires at the first
  minute after the gap (``30 2 * * *`` in Europe/Paris fires at 03:00 CEST), once;
- the **repeated hour** (fall back): a tick at a fixed hour and minute fires once, in the
  first pass (``30 2 * * *`` fires at 02:30 CEST, not again at 02:30 CET); an expression
  with a wildcard or a step in the hour field (``*/30 * * * *``) fires in both passes, as
  those are really different instants.

``every=timedelta(...)`` ticks are multiples of the interval since the Unix epoch (UTC),
so every supervisor computes the same instants without talking to the others; they are
unaffected by DST. Use ``cron`` for wall-clock times.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator

from cronsim import CronSim, CronSimError

from .schedule import Schedule

UTC = dt.timezone.utc
#: Unix cron's nicknames, which cronsim does not read.
NICKNAMES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
#: A tick this close to now counts as on time (a cron expression's resolution is a minute);
#: older ones were missed, and the catch-up policy decides about them.
ON_TIME = dt.timedelta(seconds=60)
#: cron: how far back missed ticks are looked for (a worker down for longer catches up
#: on the last ones at most).
LOOK_BACK = dt.timedelta(days=31)


def expand(expression: str) -> str:
    expression = expression.strip()
    return NICKNAMES.get(expression.lower(), expression)


def cron_problem(expression: str) -> str | None:
    """Why a Unix cron expression (five fields, or a nickname) is refused; None if fine."""
    if not isinstance(expression, str):
        return f"it is a {type(expression).__name__}, not a string"
    fields = expand(expression).split()
    if len(fields) != 5:
        return f"it has {len(fields)} fields; Unix cron has 5 (minute hour day-of-month month day-of-week)"
    try:
        CronSim(" ".join(fields), dt.datetime(2000, 1, 1, tzinfo=UTC))
    except CronSimError as exc:
        return str(exc)
    return None


def fire_times(schedule: Schedule, after: dt.datetime) -> Iterator[dt.datetime]:
    """The schedule's ticks strictly after ``after`` (aware), in UTC, in order, endless."""
    if schedule.every is not None:
        step = schedule.every.total_seconds()
        n = math.floor(after.timestamp() / step) + 1
        while True:
            yield dt.datetime.fromtimestamp(n * step, UTC)
            n += 1
    local = after.astimezone(schedule.tz)
    for tick in CronSim(expand(schedule.cron), local):
        # cronsim steps in whole minutes from the start; a start with seconds may give a
        # tick at or before it in the repeated hour's second pass: keep strictly after.
        if tick > after:
            yield tick.astimezone(UTC)


def next_ticks(schedule: Schedule, after: dt.datetime, count: int) -> list[dt.datetime]:
    times = fire_times(schedule, after)
    return [next(times) for _ in range(count)]


def ticks_between(schedule: Schedule, after: dt.datetime, until: dt.datetime, keep_last: int) -> list[dt.datetime]:
    """The ticks in ``(after, until]``, only the last ``keep_last`` of them (UTC)."""
    if schedule.every is not None:
        step = schedule.every.total_seconds()
        last = math.floor(until.timestamp() / step)
        first = max(math.floor(after.timestamp() / step) + 1, last - keep_last + 1)
        return [dt.datetime.fromtimestamp(n * step, UTC) for n in range(first, last + 1)]
    found: list[dt.datetime] = []
    for tick in fire_times(schedule, max(after, until - LOOK_BACK)):
        if tick > until:
            break
        found.append(tick)
        if len(found) > keep_last:
            del found[0]
    return found


def due_ticks(schedule: Schedule, after: dt.datetime, now: dt.datetime) -> list[dt.datetime]:
    """The ticks to fire now, given that every tick up to ``after`` was dealt with.

    On-time ticks (within a minute, or within the interval if that is shorter) always fire.
    Missed ones, after downtime: ``"none"`` drops them, ``"last"`` fires the latest of them,
    ``"all"`` fires them all, up to ``catch_up_limit`` (the most recent).
    """
    window = ON_TIME if schedule.every is None else min(ON_TIME, schedule.every)
    ticks = ticks_between(schedule, after, now, keep_last=schedule.catch_up_limit + int(window.total_seconds()) + 1)
    on_time = [t for t in ticks if now - t < window]
    missed = [t for t in ticks if now - t >= window]
    if schedule.catch_up == "none":
        return on_time
    if schedule.catch_up == "last":
        return missed[-1:] + on_time
    return (missed + on_time)[-max(schedule.catch_up_limit, len(on_time)):]


def utcnow_minute() -> dt.datetime:
    return dt.datetime.now(UTC).replace(second=0, microsecond=0)
