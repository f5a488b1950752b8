"""Where schedules are declared: ``@periodic`` in code and the ``SQS_SCHEDULES`` setting.

``@periodic`` stacks on ``@receiver`` or ``@task`` either way round:

    @periodic(cron="0 3 * * *", timezone="Europe/Paris")   # above: sees the receiver or Task
    @receiver("reports")
    def nightly(message): ...

    @receiver("reports")                                     # below: sees the function; the
    @periodic(every=timedelta(minutes=5))                    # queue (or task) is found by the
    def refresh(message): ...                                # function's path when used

It returns what it was given, unchanged. ``SQS_SCHEDULES`` holds schedules with a fixed
body (a queue) or fixed args/kwargs (a task path)::

    SQS_SCHEDULES = {
        "purge-carts": {"task": "shop.tasks.purge_carts", "cron": "*/10 * * * *", "kwargs": {"days": 3}},
        "ping": {"queue": "pings", "every": 30, "body": "ping"},
    }
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string

from ..exceptions import ConfigurationError
from ..registry import label, registry
from .schedule import DEFAULT_CATCH_UP_LIMIT, Schedule, ScheduleError, as_timedelta

#: Schedules declared with ``@periodic``, by name (the settings' are read on each call).
declared: dict[str, Schedule] = {}

SETTING_KEYS = {
    "queue", "task", "cron", "every", "timezone", "catch_up", "catch_up_limit", "body", "args", "kwargs", "group_id",
}


def periodic(
    *,
    cron: str | None = None,
    every: dt.timedelta | None = None,
    timezone: str = "UTC",
    catch_up: str = "last",
    catch_up_limit: int = DEFAULT_CATCH_UP_LIMIT,
    name: str | None = None,
    body: Any = None,
    args: list | tuple = (),
    kwargs: dict | None = None,
    group_id: str | None = None,
):
    """Fire the receiver (or task) below on a schedule: ``cron="0 3 * * *"`` (Unix cron,
    in ``timezone``) or ``every=timedelta(...)``. ``name`` defaults to the function's
    ``module.qualname`` and must stay stable: it identifies the ticks already fired."""

    def decorate(obj: Any) -> Any:
        kind, target = _target_of(obj)
        schedule = Schedule(
            name=name or target,
            kind=kind,
            target=target,
            cron=cron,
            every=every,
            timezone=timezone,
            catch_up=catch_up,
            catch_up_limit=catch_up_limit,
            body=body,
            args=list(args),
            kwargs=dict(kwargs or {}),
            group_id=group_id,
            origin=f"@periodic on {target}",
        )
        problems = schedule.problems()
        if problems:
            raise ConfigurationError(f"@periodic on {target}: {'; '.join(problems)}.")
        earlier = declared.get(schedule.name)
        if earlier is not None and earlier.origin != schedule.origin:
            raise ConfigurationError(
                f"@periodic on {target}: the schedule name {schedule.name!r} is taken by "
                f"{earlier.origin}; pass name=... to tell them apart."
            )
        # The same module imported again re-declares the same schedule: not a clash.
        declared[schedule.name] = schedule
        return obj

    return decorate


def _target_of(obj: Any) -> tuple[str, str]:
    registered = getattr(obj, "registered_queue", None)
    if registered is not None:  # a ReceiverProxy: @periodic above @receiver
        return "queue", registered.name
    if hasattr(obj, "module_path") and hasattr(obj, "func"):  # a Task: above @task
        return "task", obj.module_path
    if callable(obj) and hasattr(obj, "__qualname__"):
        return "function", f"{obj.__module__}.{obj.__qualname__}"
    raise ConfigurationError(f"@periodic goes on a receiver, a task or a function, not on {obj!r}.")


def from_settings() -> tuple[list[Schedule], list[str]]:
    """The schedules of ``SQS_SCHEDULES`` and the problems of entries that are not schedules."""
    raw = getattr(settings, "SQS_SCHEDULES", {}) or {}
    if not isinstance(raw, dict):
        return [], [f"SQS_SCHEDULES must be a dict of name → schedule, not a {type(raw).__name__}"]
    schedules, problems = [], []
    for name, entry in raw.items():
        where = f"SQS_SCHEDULES[{name!r}]"
        if not isinstance(entry, dict):
            problems.append(f"{where} must be a dict, not a {type(entry).__name__}")
            continue
        unknown = set(entry) - SETTING_KEYS
        if unknown:
            problems.append(f"{where} has unknown keys: {', '.join(sorted(unknown))}")
            continue
        if ("queue" in entry) == ("task" in entry):
            problems.append(f"{where} needs exactly one target: \"queue\": <queue name> or \"task\": <task path>")
            continue
        kind = "queue" if "queue" in entry else "task"
        options = {k: v for k, v in entry.items() if k not in ("queue", "task")}
        if "every" in options:
            options["every"] = as_timedelta(options["every"])
        options["args"] = list(options.get("args", ()))
        schedules.append(Schedule(name=name, kind=kind, target=entry[kind], origin=where, **options))
    return schedules, problems


def all_schedules() -> list[Schedule]:
    """Every schedule: ``@periodic`` ones and ``SQS_SCHEDULES``'s, by name."""
    from_code = dict(declared)
    schedules, _ = from_settings()
    for schedule in schedules:
        from_code.setdefault(schedule.name, schedule)
    return sorted(from_code.values(), key=lambda s: s.name)


def name_clashes() -> list[str]:
    names = {s.name: s.origin for s in declared.values()}
    schedules, _ = from_settings()
    return [
        f"{s.origin} and {names[s.name]} both use the schedule name {s.name!r}"
        for s in schedules if s.name in names
    ]


# -- targets ------------------------------------------------------------------------------
def resolve(schedule: Schedule) -> tuple[str, Any]:
    """``("queue", RegisteredQueue)`` or ``("task", Task)``; ``ScheduleError`` if the target
    is unknown."""
    if schedule.kind == "queue":
        if schedule.target not in registry:
            raise ScheduleError(f"no queue named {schedule.target!r} is registered")
        return "queue", registry.get(schedule.target)
    if schedule.kind == "function":
        for rq in registry.with_receivers():
            if label(rq.receiver) == schedule.target:
                return "queue", rq
    task = _import_task(schedule.target)
    return "task", task


def _import_task(path: str) -> Any:
    try:
        obj = import_string(path)
    except ImportError as exc:
        raise ScheduleError(f"{path!r} is neither a registered receiver nor an importable task ({exc})") from None
    if not (hasattr(obj, "module_path") and hasattr(obj, "func") and hasattr(obj, "enqueue")):
        raise ScheduleError(f"{path!r} is a {type(obj).__name__}, neither a receiver nor a task")
    return obj
