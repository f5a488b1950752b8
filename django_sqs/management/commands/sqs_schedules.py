"""``manage.py sqs_schedules``: every schedule, when it fires next, and its last tick."""

from __future__ import annotations

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import DatabaseError

from ...periodic import claims, config
from ...periodic.cron import next_ticks
from ...periodic.declarations import all_schedules
from .. import logging as command_logging

UTC_FORMAT = "%Y-%m-%d %H:%M:%S UTC"
LOCAL_FORMAT = "%Y-%m-%d %H:%M:%S %Z"


class Command(BaseCommand):
    help = (
        "List every schedule (@periodic, SQS_SCHEDULES): target, expression, time zone, the next "
        "three fire times (local and UTC), the mode, and (mode B) the last claimed tick and whether "
        "it was sent."
    )

    def handle(self, **options):
        command_logging.configure(options["verbosity"])
        schedules = all_schedules()
        mode = config.mode()
        label = {"workers": "B (runreceiver --schedules)", "eventbridge": "A (EventBridge Scheduler)"}.get(mode, mode)
        if not schedules:
            self.stdout.write("No schedule is declared (@periodic or SQS_SCHEDULES).")
            return
        from django.utils import timezone

        now = timezone.now()
        for schedule in schedules:
            self.stdout.write(self.style.MIGRATE_HEADING(schedule.name))
            self.stdout.write(f"  target:     {schedule.kind} {schedule.target}")
            self.stdout.write(f"  expression: {schedule.expression}  timezone: {schedule.timezone}  catch_up: {schedule.catch_up}")
            self.stdout.write(f"  mode:       {label}")
            problems = schedule.problems()
            if problems:
                self.stdout.write(self.style.ERROR(f"  invalid:    {'; '.join(problems)}"))
                continue
            for tick in next_ticks(schedule, now, 3):
                local = tick.astimezone(schedule.tz)
                self.stdout.write(f"  next:       {local.strftime(LOCAL_FORMAT)}  ({tick.strftime(UTC_FORMAT)})")
            self.stdout.write(f"  last tick:  {self.last_tick(schedule.name, mode)}")

    def last_tick(self, name: str, mode: str) -> str:
        if mode != "workers":
            return "- (EventBridge Scheduler keeps no record here)"
        if not apps.is_installed(claims.APP):
            return f"- ({claims.APP} is not installed)"
        try:
            row = claims.model().objects.filter(schedule=name).order_by("-tick").first()
        except DatabaseError as exc:
            return f"- (cannot read the claims: {exc})"
        if row is None:
            return "none claimed yet"
        state = f"sent {row.sent_at.strftime(UTC_FORMAT)}" if row.sent_at else "NOT SENT"
        extra = f", claimed {row.claims} times" if row.claims > 1 else ""
        error = f", last error: {row.error}" if row.error else ""
        return f"{row.tick.strftime(UTC_FORMAT)} by {row.claimed_by}, {state}{extra}{error}"
