"""``runreceiver --schedules``: refuse what cannot work, then start the firing process."""

from __future__ import annotations

from django.core.management.base import CommandError

from . import config
from .declarations import all_schedules
from .loop import FiringProcess


def start_firing() -> FiringProcess:
    if config.mode() != "workers":
        # EventBridge Scheduler sends these ticks already: firing them here too would send twice.
        raise CommandError(
            f"--schedules fires the schedules from the workers, but SQS_SCHEDULE_MODE is {config.mode()!r} "
            "(EventBridge Scheduler sends them). Drop --schedules, or set SQS_SCHEDULE_MODE = \"workers\"."
        )
    if not all_schedules():
        raise CommandError("--schedules: no schedule is declared (@periodic or SQS_SCHEDULES).")
    return FiringProcess().start()
