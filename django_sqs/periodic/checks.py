"""System checks of periodic work (ids E070–E079, W070–W079)."""

from __future__ import annotations

from django.apps import apps
from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

from ..exceptions import SQSError
from ..message import Tick
from . import claims, config
from .cron import utcnow_minute
from .declarations import all_schedules, from_settings, name_clashes, resolve
from .firing import queue_message
from .schedule import ScheduleError


@register(Tags.compatibility)
def check_schedules(app_configs=None, **kwargs) -> list:
    errors: list = []
    _, problems = from_settings()
    errors += [Error(p, hint="See SQS_SCHEDULES in the periodic work docs.", obj="SQS_SCHEDULES", id="django_sqs.E070") for p in problems]
    errors += [Error(c, hint="Give one of them another name=...", obj="schedules", id="django_sqs.E072") for c in name_clashes()]
    mode = config.mode()
    if mode not in config.MODES:
        errors.append(Error(
            f"SQS_SCHEDULE_MODE is {mode!r}.", hint='"workers" (runreceiver --schedules) or "eventbridge" (sqs_sync_schedules).',
            obj="SQS_SCHEDULE_MODE", id="django_sqs.E077",
        ))
    schedules = all_schedules()
    for schedule in schedules:
        errors += _check_one(schedule, mode)
    if schedules and mode == "workers":
        errors += _check_mode_b()
    if schedules and mode == "eventbridge" and not config.role_arn():
        errors.append(Error(
            "SQS_SCHEDULE_MODE is \"eventbridge\" but SQS_SCHEDULER_ROLE_ARN is not set.",
            hint="The ARN of an IAM role that scheduler.amazonaws.com may assume, allowed sqs:SendMessage on the queues.",
            obj="SQS_SCHEDULER_ROLE_ARN", id="django_sqs.E078",
        ))
    return errors


def _check_one(schedule, mode: str) -> list:
    where = f"schedule {schedule.name!r} ({schedule.origin})"
    found = []
    for problem in schedule.problems():
        is_name = "name" in problem.split(" ", 1)[0]
        found.append(Error(
            f"{problem}.",
            hint="Name: letters, digits, '-', '_', '.', at most 64." if is_name else "Unix cron: 'minute hour day month weekday', e.g. '0 3 * * *'.",
            obj=where, id="django_sqs.E072" if is_name else "django_sqs.E071",
        ))
    if found:
        return found
    try:
        kind, target = resolve(schedule)
        if kind == "queue":
            # The tick's message must be one the queue's message class can write.
            queue_message(schedule, target, Tick(schedule.name, utcnow_minute()))[0].encode()
    except (ScheduleError, SQSError) as exc:
        found.append(Error(
            f"the target {schedule.target!r} cannot be used: {exc}.",
            hint="A registered queue name (\"queue\"), a django.tasks task path (\"task\"), or @periodic on a receiver or task.",
            obj=where, id="django_sqs.E073",
        ))
        return found
    if mode == "eventbridge":
        from .aws import aws_expression

        try:
            aws_expression(schedule)
        except ScheduleError as exc:
            found.append(Error(f"{exc}.", hint="Use cron=... or a whole number of minutes in mode A.", obj=where, id="django_sqs.E074"))
    elif schedule.every is not None and schedule.every.total_seconds() < 60 and schedule.catch_up == "all":
        found.append(Warning(
            f"every {schedule.every} with catch_up=\"all\" sends up to {schedule.catch_up_limit} ticks at once after downtime.",
            hint="catch_up=\"last\" fires once for the missed ticks.", obj=where, id="django_sqs.W070",
        ))
    return found


def _check_mode_b() -> list:
    databases = getattr(settings, "DATABASES", {}) or {}
    engine = (databases.get("default") or {}).get("ENGINE", "")
    if not engine or engine.endswith(".dummy"):
        return [Error(
            "Schedules are fired by the workers (SQS_SCHEDULE_MODE \"workers\"), which claim each tick in the "
            "database, and no database is configured.",
            hint="Configure DATABASES (each tick is claimed there, so that it is sent once), or use "
            "SQS_SCHEDULE_MODE = \"eventbridge\" and manage.py sqs_sync_schedules.",
            obj="DATABASES", id="django_sqs.E075",
        )]
    if not apps.is_installed(claims.APP):
        return [Error(
            f"Schedules are fired by the workers, which claim each tick in a table of the app {claims.APP!r}, "
            "and it is not in INSTALLED_APPS.",
            hint=f'Add "{claims.APP}" to INSTALLED_APPS and run migrate.', obj="INSTALLED_APPS", id="django_sqs.E076",
        )]
    return []



