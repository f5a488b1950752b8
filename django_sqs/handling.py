"""What happens to one message: run its receiver and decide delete, keep or delay.

The worker and the eager mode both come through here, so a receiver behaves the same
in tests (``SQS_EAGER``) and in production.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from .exceptions import BadMessage, RestartLater
from .message import Message
from .registered_queue import RegisteredQueue

logger = logging.getLogger("django_sqs.worker")


@dataclasses.dataclass(frozen=True)
class Outcome:
    """``delete``: remove the message; else it stays, visible again after ``delay``
    seconds when given, or when its visibility timeout runs out."""

    delete: bool
    delay: int | None = None
    reason: str = "ok"


DELETE = Outcome(delete=True)


def decode_message(rq: RegisteredQueue, record: dict, full_name: str) -> Message:
    """A received SQS record as a message of the queue's class; the body stays undecoded."""
    return rq.message_class.from_sqs(record, queue_name=full_name)


def _for_replay(rq: RegisteredQueue, message: Message) -> str:
    """A failed message that is deleted leaves a trace it can be replayed from: its raw
    body and attributes, in the log line that says it failed."""
    if not rq.delete_on_error:
        return ""
    return f" body={message.raw_body!r} message_attributes={message.message_attributes!r}"


def run_awaitable(awaitable: Awaitable[Any]) -> Any:
    """Await on a loop of its own: the default when no worker loop is given (eager mode)."""

    async def wrapper() -> Any:
        return await awaitable

    return asyncio.run(wrapper())


def run_receiver(
    rq: RegisteredQueue,
    message: Message,
    *,
    await_with: Callable[[Awaitable[Any]], Any] = run_awaitable,
) -> Outcome:
    """Call the receiver and turn what it did into an ``Outcome``; never raises.

    An ``async def`` receiver (or one that returns an awaitable, as the tasks backend does
    for ``async def`` tasks) is awaited with ``await_with``: the worker passes the one event
    loop of its process; the default runs a loop of its own.
    """
    queue, msg_id = message.queue_name, message.id
    try:
        result = rq.receiver(message)
        if inspect.isawaitable(result):
            await_with(result)
    except RestartLater as exc:
        logger.log(logging.DEBUG if exc.logged else logging.INFO, "restart later queue=%s id=%s delay=%s", queue, msg_id, exc.delay)
        return Outcome(delete=False, delay=exc.delay, reason="restart")
    except BadMessage as exc:
        logger.error(
            "bad message queue=%s id=%s reason=%s action=%s%s",
            queue, msg_id, exc, "delete" if rq.delete_on_error else "keep", _for_replay(rq, message),
        )
        return Outcome(delete=rq.delete_on_error, reason="bad message")
    except (Exception, SystemExit, KeyboardInterrupt):
        # A receiver calling sys.exit() (or raising KeyboardInterrupt) fails its message,
        # not the worker: the worker's own stop comes through its signal handlers.
        logger.exception(
            "receiver failed queue=%s id=%s action=%s%s",
            queue, msg_id, "delete" if rq.delete_on_error else "keep", _for_replay(rq, message),
        )
        return Outcome(delete=rq.delete_on_error, reason="error")
    logger.debug("handled queue=%s id=%s", queue, msg_id)
    return DELETE
