"""Periodic work (SPEC §15): schedules declared in code, each tick sent once.

``periodic`` declares; mode A hands the schedules to EventBridge Scheduler
(``manage.py sqs_sync_schedules``); mode B fires them from the workers
(``runreceiver --schedules``), each tick claimed in the database.
"""

from .declarations import periodic
from .idempotence import once_per_tick

__all__ = ["once_per_tick", "periodic"]
