"""After a failed attempt: the retry, or giving up, and the one log line that says which.

- **Retry** (attempts left): a new message for the next attempt, sent with the backoff as
  its DelaySeconds (beyond SQS's 15 minutes, with ``run_after`` as well, which the worker's
  deferral honours), and the original deleted by the worker, as a ``run_after`` deferral
  does. A FIFO queue cannot delay one message, and a new message would go behind the rest
  of its group, so there the message is kept for the backoff instead (``RestartLater``);
  so is every message in eager mode, and one whose retry could not be sent.
  Logged at WARNING: ``task attempt 1/3 failed, retrying in 10 s ...``.
- **Give up** (attempts spent): with ``DEAD_LETTER_QUEUE``, the worker sends the task to
  the dead-letter queue itself (for the attempt after the last, so that ``sqs_redrive``
  gives it one more run) and the original is deleted; without, it is deleted. Logged at
  ERROR: ``task failed, giving up after 3 attempts → <dead-letter queue> ...``.

The message's own receive count plays no part: the queue's redrive policy is only the
safety net for crash loops (``queues.max_receive_count``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging

from ..conf import settings
from ..dead_letters import move_to_dead_letter_queue
from ..exceptions import RestartLater, SQSError
from ..message import Message
from ..sending import MAX_DELAY_SECONDS
from .envelope import Envelope, TaskMessage

logger = logging.getLogger("django_sqs.tasks")


def _attempts(n: int) -> str:
    return f"{n} attempt{'s' if n != 1 else ''}"


def _where(message: Message, envelope: Envelope) -> str:
    return f"queue={message.queue_name} id={envelope.id} message_id={message.id} task={envelope.task}"


def _error(exc: BaseException | None) -> str:
    return f"{type(exc).__name__}: {exc}" if exc is not None else "-"


def retry(backend, task, envelope: Envelope, message: Message, *, attempt: int, fifo: bool, exc: BaseException) -> None:
    """Attempt ``attempt`` failed and others are left: send the next one after the backoff."""
    opts = backend.sqs_options
    delay = opts.backoff_for(attempt)
    logger.warning(
        "task attempt %d/%d failed, retrying in %d s %s error=%s",
        attempt, opts.max_attempts, delay, _where(message, envelope), _error(exc), exc_info=exc,
    )
    if fifo or settings.SQS_EAGER:
        raise RestartLater(delay=delay, reason=f"task attempt {attempt}/{opts.max_attempts} failed", logged=True)
    run_after = None
    if delay > MAX_DELAY_SECONDS:  # the deferral sends it on until the time has come
        run_after = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=delay)
    following = dataclasses.replace(envelope, attempt=attempt + 1, run_after=run_after or envelope.run_after)
    try:
        backend.send_on(task, following, delay_seconds=min(delay, MAX_DELAY_SECONDS))
    except SQSError as error:
        # Kept instead: it comes back after the backoff as the same message, which the
        # result store counts as the next attempt.
        logger.warning("cannot send the retry %s error=%s; keeping the message", _where(message, envelope), error)
        raise RestartLater(delay=delay, reason="retry not sent", logged=True) from error


def give_up(backend, envelope: Envelope, message: Message, *, attempts: int, exc: BaseException | None, cause: str = "") -> None:
    """The attempts are spent: to the dead-letter queue (or deleted, without one)."""
    opts = backend.sqs_options
    if not opts.dead_letter_queue:
        logger.error(
            "task failed%s, giving up after %s, deleted %s error=%s",
            cause, _attempts(attempts), _where(message, envelope), _error(exc), exc_info=exc,
        )
        return
    # For the attempt after the last: a redriven task runs once more (see attempts.decide).
    parked = dataclasses.replace(envelope, attempt=attempts + 1)
    try:
        dlq, moved_id = move_to_dead_letter_queue(message, body=TaskMessage(parked).encode())
    except SQSError as error:
        # Kept: it comes back, finds its attempts spent in the store, and is moved then.
        delay = opts.backoff_for(attempts) or 1
        logger.error(
            "task failed%s, giving up after %s, but cannot move it to the dead-letter queue "
            "(trying again in %d s) %s error=%s move_error=%s",
            cause, _attempts(attempts), delay, _where(message, envelope), _error(exc), error, exc_info=exc,
        )
        raise RestartLater(delay=delay, reason="dead-letter queue unavailable", logged=True) from error
    _remember_move(backend, envelope, moved_id)
    logger.error(
        "task failed%s, giving up after %s → %s %s error=%s",
        cause, _attempts(attempts), dlq, _where(message, envelope), _error(exc), exc_info=exc,
    )


def _remember_move(backend, envelope: Envelope, moved_id: str) -> None:
    """Record the dead-letter copy as the task's latest message. Should the worker stop
    before the original's delete, the original comes back to a result of another message
    and is deleted, not moved a second time (two copies in the dead-letter queue)."""
    if backend.result_store is None:
        return
    try:
        backend.result_store.moved(envelope.id, moved_id)
    except Exception:  # the move is done; only a stop before the delete would copy it twice
        logger.warning("cannot record the dead-letter move in the result store id=%s", envelope.id, exc_info=True)
