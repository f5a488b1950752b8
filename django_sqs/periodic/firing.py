"""What a tick sends: the message of a queue target, the task of a task target.

Mode B sends it from here (``send_tick``); mode A gives EventBridge Scheduler the same
message as a template (``aws.target_input``), with the scheduled time filled in by AWS.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from ..message import Message, Tick
from ..registered_queue import RegisteredQueue
from ..sending import send_message
from .declarations import resolve
from .schedule import Schedule

logger = logging.getLogger("django_sqs.periodic")


def body_of(schedule: Schedule, at: str) -> Any:
    """The body a queue target's message carries: the declared one, else the tick's time."""
    return at if schedule.body is None else schedule.body


def deduplication_id(schedule: Schedule, at: str) -> str:
    # FIFO targets: one id per tick, so SQS drops a second send of the same tick (a
    # recovered claim, Scheduler's retry) within its five-minute window, whatever the body.
    return f"{schedule.name}@{at}"


def queue_message(schedule: Schedule, rq: RegisteredQueue, tick: Tick) -> tuple[Message, dict]:
    """The message and the send options of a tick for a queue target."""
    at = tick.at.isoformat()
    message = rq.message_class(body=body_of(schedule, at))
    message.message_attributes.update(tick.as_attributes())
    options = {}
    if rq.fifo:
        options = {"group_id": schedule.group_id or schedule.name, "deduplication_id": deduplication_id(schedule, at)}
    return message, options


def send_tick(schedule: Schedule, at: dt.datetime) -> str:
    """Send the tick ``at`` (UTC) of ``schedule``; returns the SQS message id (a queue
    target) or the task result id (a task target)."""
    tick = Tick(schedule.name, at)
    kind, target = resolve(schedule)
    if kind == "queue":
        message, options = queue_message(schedule, target, tick)
        return send_message(target, message, **options)
    from ..tasks.enqueueing import new_result, send_results, sqs_backend_of

    backend = sqs_backend_of(target)
    backend.validate_task(target)
    result = new_result(backend, target, schedule.args, schedule.kwargs)
    send_results(backend, target, [result], tick=tick)
    return result.id
