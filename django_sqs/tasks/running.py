"""Running a task message inside ``runreceiver``, in the sequence Django's own backends follow.

``TaskReceiver`` is the receiver of every task queue. For each message it:

1. reads the envelope and rebuilds the ``Task`` from its module path (validated again, as
   the web process did); a message that is not a valid task is a ``BadMessage``;
2. if the task is not due yet (``run_after`` beyond SQS's 15-minute DelaySeconds), sends
   it on again with the remaining delay and lets the worker delete the original;
3. decides which attempt this is (``attempts``; with a result store, a copy of a task that
   runs or has run elsewhere is not run again) and records its start (``TaskRun.begin``):
   RUNNING with ``started_at``, ``last_attempted_at`` and the worker id, ``task_started``;
4. runs it: the call, with or without context; a JSON-normalised return value; an error
   with its exception path and traceback; ``task_finished``, sent inside the ``except``
   block for a failure so the framework's log has the traceback;
5. after a failure, a retry or giving up (``retries``).

An ``async def`` task: the receiver returns a coroutine doing 4–5, which the worker awaits
on its event loop; the framework's signals and the result store run in a thread.
"""

from __future__ import annotations

import inspect
import logging
import os
import socket
import threading
from traceback import format_exception
from typing import Any

from asgiref.sync import sync_to_async
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone
from django.utils.module_loading import import_string

from .. import naming
from ..conf import MAX_VISIBILITY_TIMEOUT, settings
from ..exceptions import BadMessage, RestartLater, SQSError
from ..message import Message
from ..sending import MAX_DELAY_SECONDS
from . import attempts, retries
from .compat import (
    InvalidTask,
    Task,
    TaskError,
    TaskResult,
    TaskResultStatus,
    normalize_json,
    task_backends,
    task_finished,
    task_started,
)
from .context import SQSTaskContext
from .envelope import Envelope, seconds_until

logger = logging.getLogger("django_sqs.tasks")

#: django-tasks-db refuses longer worker ids; the backport documents 64 as the maximum.
MAX_WORKER_ID = 64


_worker_ids = threading.local()


def worker_id() -> str:
    """``host:pid:thread``, at most 64 characters: which worker ran an attempt."""
    pid = os.getpid()
    known = getattr(_worker_ids, "value", None)
    if known is None or known[0] != pid:  # a forked child is another worker
        tail = f":{pid}:{threading.get_ident()}"
        known = _worker_ids.value = (pid, socket.gethostname()[: MAX_WORKER_ID - len(tail)] + tail)
    return known[1]


class TaskReceiver:
    """The receiver of a task queue: runs the task a message carries."""

    def __init__(self, alias: str, task_queue: str):
        self.alias = alias
        self.task_queue = task_queue
        # The registry tells receivers apart by module and qualified name.
        self.__qualname__ = f"TaskReceiver[{alias}:{task_queue}]"

    def __call__(self, message: Message) -> Any:
        backend = task_backends[self.alias]
        envelope: Envelope = message.get_body()
        if envelope.backend != self.alias or envelope.queue != self.task_queue:
            raise BadMessage(
                f"task for backend {envelope.backend!r} queue {envelope.queue!r} "
                f"found in the queue of backend {self.alias!r} queue {self.task_queue!r}"
            )
        task = load_task(envelope, backend)
        if envelope.run_after is not None and defer(backend, task, envelope):
            return None
        run = TaskRun(backend, task, envelope, message)
        if not run.begin():
            return None
        if inspect.iscoroutinefunction(task.func):
            return run.run_async()
        return run.run_sync()

    def __repr__(self) -> str:
        return f"<{self.__qualname__}>"


def load_task(envelope: Envelope, backend) -> Task:
    """The Task of the envelope, imported by path and validated; ``BadMessage`` if it cannot be.

    A task without ``run_after`` is validated once per backend instance (instances are
    rebuilt when TASKS changes): that was a third of a no-op task's cost.
    """
    key = (envelope.task, envelope.queue, envelope.priority, envelope.backend)
    cache = backend.loaded_tasks
    if envelope.run_after is None and key in cache:
        return cache[key]
    task = _import_task(envelope)
    if envelope.run_after is None:
        cache[key] = task
    return task


def _import_task(envelope: Envelope) -> Task:
    try:
        task = import_string(envelope.task)
    except ImportError as exc:
        raise BadMessage(f"task {envelope.task!r} cannot be imported ({exc})") from exc
    if not isinstance(task, Task):
        raise BadMessage(f"{envelope.task!r} is a {type(task).__name__}, not a Task")
    try:
        return task.using(
            queue_name=envelope.queue, priority=envelope.priority, backend=envelope.backend,
            run_after=envelope.run_after,
        )
    except (InvalidTask, ImproperlyConfigured) as exc:  # ImproperlyConfigured: an unknown backend
        raise BadMessage(f"task {envelope.task!r} is not valid here: {exc}") from exc


def defer(backend, task: Task, envelope: Envelope) -> bool:
    """Send a task that is not due yet on again with the remaining delay; True if it was.

    A new message, not a longer visibility: a visibility change counts a receive towards
    the dead-letter queue and keeps the retention clock running (14 days at most).
    """
    remaining = seconds_until(envelope.run_after)
    if remaining <= 0:
        return False
    if settings.SQS_EAGER:  # no queue to send it on to: keep it, as the worker would
        raise RestartLater(delay=min(remaining, MAX_VISIBILITY_TIMEOUT), reason="task not due yet")
    try:
        backend.send_on(task, envelope, delay_seconds=min(remaining, MAX_DELAY_SECONDS))
    except SQSError as exc:
        # Not lost: it comes back after the delay and is sent on then.
        logger.warning("cannot defer task id=%s error=%s; keeping it", envelope.id, exc)
        raise RestartLater(delay=min(remaining, MAX_DELAY_SECONDS), reason="defer failed", logged=True) from exc
    logger.debug("deferred task id=%s remaining=%ss", envelope.id, remaining)
    return True



class TaskRun:
    """One received task message: which attempt it is, the run, the result as it goes, the
    store and the signals, and what follows a failure (``retries``)."""

    def __init__(self, backend, task: Task, envelope: Envelope, message: Message):
        self.backend = backend
        self.task = task
        self.envelope = envelope
        self.message = message
        self.fifo = naming.is_fifo(envelope.queue)
        self.store = backend.result_store
        self.attempt = envelope.attempt
        self.result: TaskResult | None = None

    @property
    def max_attempts(self) -> int:
        return self.backend.sqs_options.max_attempts

    @property
    def final(self) -> bool:
        return self.attempt >= self.max_attempts

    # -- the sequence -----------------------------------------------------------------
    def begin(self) -> bool:
        """Decide the attempt and record its start; False when the task is not to run."""
        if self.store is None:
            # Only the envelope counts: a run cut off by a kill is not an attempt. A FIFO
            # queue keeps a failed message for its retry, so there SQS's receive count is all
            # there is (give-backs included).
            if self.fifo:
                self.attempt = max(self.attempt, self.message.receive_count)
            self.start(self.attempt, stored=None)
            return True
        contested = False
        for _ in range(3):  # another copy may claim it between the read and the write
            stored, stored_message_id = self._store_call(self.store.load_attempt, self.envelope.id)
            verdict = attempts.decide(
                envelope_attempt=self.envelope.attempt, message_id=self.message.id or "",
                stored=stored, stored_message_id=stored_message_id, max_attempts=self.max_attempts,
            )
            if verdict.lost and (contested or self.started_lately(stored)):
                # RUNNING from this very message, claimed since our read or less than a
                # visibility timeout ago: not a worker cut off (its message comes back only
                # after the visibility timeout) but another receive of this message (SQS
                # delivers one twice at times). Kept, not deleted: if that run is cut off,
                # this message must come back.
                delay = self.visibility_timeout()
                logger.info(
                    "task not run: another receive of this message runs it queue=%s id=%s message_id=%s; "
                    "keeping it for %ss",
                    self.message.queue_name, self.envelope.id, self.message.id, delay,
                )
                raise RestartLater(delay=delay, reason="another receive of this message runs it", logged=True)
            if verdict.action == attempts.SKIP:
                logger.info(
                    "task not run: %s queue=%s id=%s message_id=%s task=%s",
                    verdict.reason, self.message.queue_name, self.envelope.id, self.message.id, self.envelope.task,
                )
                return False
            if verdict.action == attempts.GIVE_UP:
                self.give_up_unrun(verdict, stored)
                return False
            self.attempt = verdict.attempt
            if self.start(verdict.attempt, stored, stored_message_id, lost=verdict.lost):
                return True
            contested = True
        logger.info("task not run: another copy claimed it queue=%s id=%s", self.message.queue_name, self.envelope.id)
        return False

    def run_sync(self) -> None:
        try:
            raw = self.task.call(*self.call_args(), **self.result.kwargs)
            value = normalize_json(raw)  # in the try: a non-JSON value fails the task
        except BaseException as exc:  # SystemExit too: recorded, never ends the worker
            self.failed(exc)
            error = exc
        else:
            self.succeeded(value)
            return
        self.after_failure(error)

    async def run_async(self) -> None:
        try:
            raw = await self.task.acall(*self.call_args(), **self.result.kwargs)
            value = normalize_json(raw)
        except BaseException as exc:
            # sync_to_async re-raises the exception in its thread: the log keeps exc_info.
            await sync_to_async(self.failed)(exc)
            error = exc
        else:
            await sync_to_async(self.succeeded)(value)
            return
        await sync_to_async(self.after_failure)(error)

    # -- steps ------------------------------------------------------------------------
    def start(self, attempt: int, stored: TaskResult | None, stored_message_id: str = "", *, lost: bool = False) -> bool:
        """RUNNING, recorded (claimed against ``stored``); False if another copy claimed it first."""
        now = timezone.now()
        me = worker_id()
        earlier = list(stored.worker_ids) if stored else []
        # TaskContext.attempt is len(worker_ids): earlier attempts the store does not know
        # (enqueued without it, or without a store at all) are filled in with this worker.
        earlier = [me] * max(0, attempt - 1 - len(earlier)) + earlier
        errors = list(stored.errors) if stored else []
        if lost:
            errors.append(_task_error(_lost_exception(attempt - 1)))
        self.result = TaskResult(
            task=self.task,
            id=self.envelope.id,
            status=TaskResultStatus.RUNNING,
            enqueued_at=self.envelope.enqueued_at,
            started_at=now,
            finished_at=None,
            last_attempted_at=now,
            args=self.envelope.args,
            kwargs=self.envelope.kwargs,
            backend=self.backend.alias,
            errors=errors,
            worker_ids=[*earlier, me],
        )
        if self.store and not self._store_call(self.store.claim, self.result, self.message.id or "", stored, stored_message_id):
            return False
        task_started.send(sender=type(self.backend), task_result=self.result)
        return True

    def started_lately(self, stored: TaskResult) -> bool:
        """Whether the stored attempt started less than a visibility timeout ago."""
        started = stored.last_attempted_at
        return started is not None and (timezone.now() - started).total_seconds() < self.visibility_timeout()

    def visibility_timeout(self) -> int:
        """The task queue's visibility timeout: how long a run keeps its message hidden."""
        return self.backend.sqs_options.visibility_timeout or settings.SQS_DEFAULT_VISIBILITY_TIMEOUT

    def _store_call(self, method, *args):
        try:
            return method(*args)
        except RestartLater:  # already logged and kept (``failed``)
            raise
        except Exception as exc:
            # The task has not run: keep it for later rather than run it unrecorded. The
            # wait doubles with each receive, so that a long outage adds few receives.
            delay = store_retry_delay(self.message.receive_count)
            logger.exception(
                "result store unavailable, task not started queue=%s id=%s; trying again in %ss",
                self.message.queue_name, self.envelope.id, delay,
            )
            raise RestartLater(delay=delay, reason="result store unavailable", logged=True) from exc

    def call_args(self) -> list:
        if self.task.takes_context:
            return [SQSTaskContext(task_result=self.result, tick=self.envelope.tick), *self.result.args]
        return list(self.result.args)

    def succeeded(self, value: Any) -> None:
        result = self.result
        object.__setattr__(result, "_return_value", value)
        object.__setattr__(result, "finished_at", timezone.now())
        object.__setattr__(result, "status", TaskResultStatus.SUCCESSFUL)
        if self.store:
            try:
                self.store.save(result)
            except Exception:
                # The task ran: its message is deleted all the same. Kept, it would come
                # back to a result RUNNING from itself, read as a cut-off worker: the task
                # would run again, or on its last attempt be failed to the dead-letter queue.
                logger.exception(
                    "task succeeded but its result could not be recorded (it stays RUNNING) queue=%s id=%s "
                    "message_id=%s task=%s",
                    self.message.queue_name, self.envelope.id, self.message.id, self.envelope.task,
                )
        task_finished.send(sender=type(self.backend), task_result=result)

    def failed(self, exc: BaseException) -> None:
        """Record the failure; call it inside the ``except`` block (the log reads exc_info).

        With attempts left the result is READY again ("ready to be executed again"), so the
        framework's ``task_finished`` log reads ``state=READY``, not a final FAILED.
        """
        result = self.result
        result.errors.append(_task_error(exc))
        if self.final:
            object.__setattr__(result, "finished_at", timezone.now())
            object.__setattr__(result, "status", TaskResultStatus.FAILED)
        else:
            object.__setattr__(result, "finished_at", None)
            object.__setattr__(result, "status", TaskResultStatus.READY)
        if self.store:
            try:
                self.store.save(result)
            except Exception as error:
                # Kept, not retried as a new message (which would find the result RUNNING
                # from this one and be skipped) nor deleted (a queue without a dead-letter
                # queue deletes a message whose receiver raised): it comes back, and the
                # store counts the attempt as cut off (once it started a visibility timeout ago).
                delay = max(self.backend.sqs_options.backoff_for(self.attempt), self.visibility_timeout())
                logger.exception(
                    "task attempt %d/%d failed but the result store cannot record it; keeping it for %d s "
                    "queue=%s id=%s message_id=%s task=%s error=%s",
                    self.attempt, self.max_attempts, delay, self.message.queue_name, self.envelope.id,
                    self.message.id, self.envelope.task, f"{type(exc).__name__}: {exc}",
                )
                raise RestartLater(delay=delay, reason="result store unavailable", logged=True) from error
        task_finished.send(sender=type(self.backend), task_result=result)

    def after_failure(self, exc: BaseException) -> None:
        if not self.final:
            retries.retry(
                self.backend, self.task, self.envelope, self.message, attempt=self.attempt, fifo=self.fifo, exc=exc,
            )
            return
        retries.give_up(self.backend, self.envelope, self.message, attempts=self.attempt, exc=exc)

    def give_up_unrun(self, verdict: attempts.Verdict, stored: TaskResult) -> None:
        """Attempts spent before this receive: the last one cut off by a kill, or failed and
        its message not yet moved or deleted. Recorded (once) and given up, not run."""
        self.attempt = verdict.attempt
        exc = None
        if verdict.lost:
            self.result = stored
            try:
                raise _lost_exception(verdict.attempt)
            except attempts.AttemptLost as lost:
                exc = lost
                object.__setattr__(stored, "status", TaskResultStatus.RUNNING)
                self._store_call(self.failed, lost)
        retries.give_up(
            self.backend, self.envelope, self.message, attempts=verdict.attempt, exc=exc,
            cause=f" ({verdict.reason})",
        )


#: Seconds a task waits for an unavailable result store: doubled with each receive, to at most an hour.
STORE_RETRY_FIRST = 10
STORE_RETRY_CAP = 3600


def store_retry_delay(receive_count: int) -> int:
    return min(STORE_RETRY_CAP, STORE_RETRY_FIRST * 2 ** min(max(receive_count, 1) - 1, 20))


def _lost_exception(attempt: int) -> attempts.AttemptLost:
    return attempts.AttemptLost(
        f"attempt {attempt} was cut off: its worker stopped before the task finished (killed, out of memory, host lost)"
    )


def _task_error(exc: BaseException) -> TaskError:
    kind = type(exc)
    return TaskError(
        exception_class_path=f"{kind.__module__}.{kind.__qualname__}", traceback="".join(format_exception(exc)),
    )
