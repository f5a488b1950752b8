"""Running a task message inside ``runreceiver``, in the sequence Django's own backends follow.

``TaskReceiver`` is the receiver of every task queue. For each message it:

1. reads the envelope and rebuilds the ``Task`` from its module path (validated again, as
   the web process did); a message that is not a valid task is a ``BadMessage``;
2. if the task is not due yet (``run_after`` beyond SQS's 15-minute DelaySeconds), sends
   it on again with the remaining delay and lets the worker delete the original;
3. runs it (``TaskRun``): RUNNING with ``started_at``, ``last_attempted_at`` and the worker
   id, ``task_started``; the call, with or without context; a JSON-normalised return value;
   an error with its exception path and traceback; ``task_finished``, sent inside the
   ``except`` block for a failure so the framework's log has the traceback;
4. a failure with attempts left raises ``RestartLater(backoff)``; the last one, with a
   dead-letter queue, ``RestartLater(0)`` so SQS moves the message there on its next receive.

An ``async def`` task: the receiver returns a coroutine doing 3–4, which the worker awaits
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

from ..conf import MAX_VISIBILITY_TIMEOUT, settings
from ..exceptions import BadMessage, RestartLater, SQSError
from ..message import Message
from ..sending import MAX_DELAY_SECONDS
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
        run = TaskRun(backend, task, envelope, message.receive_count)
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
        raise RestartLater(delay=min(remaining, MAX_DELAY_SECONDS), reason="defer failed") from exc
    logger.debug("deferred task id=%s remaining=%ss", envelope.id, remaining)
    return True



class TaskRun:
    """One attempt at a task: the result as it goes, the store and the signals."""

    def __init__(self, backend, task: Task, envelope: Envelope, receive_count: int):
        self.backend = backend
        self.task = task
        self.envelope = envelope
        self.attempt = max(1, receive_count)
        self.store = backend.result_store
        self.result: TaskResult | None = None

    # -- the sequence -----------------------------------------------------------------
    def run_sync(self) -> None:
        self.start()
        try:
            raw = self.task.call(*self.call_args(), **self.result.kwargs)
            value = normalize_json(raw)  # in the try: a non-JSON value fails the task
        except BaseException as exc:  # SystemExit too: recorded, never ends the worker
            self.failed(exc)
        else:
            self.succeeded(value)
            return
        self.after_failure()

    async def run_async(self) -> None:
        await sync_to_async(self.start)()
        try:
            raw = await self.task.acall(*self.call_args(), **self.result.kwargs)
            value = normalize_json(raw)
        except BaseException as exc:
            # sync_to_async re-raises the exception in its thread: the log keeps exc_info.
            await sync_to_async(self.failed)(exc)
        else:
            await sync_to_async(self.succeeded)(value)
            return
        self.after_failure()

    # -- steps ------------------------------------------------------------------------
    def start(self) -> None:
        now = timezone.now()
        stored = self.store.load(self.envelope.id) if self.store else None
        me = worker_id()
        earlier = list(stored.worker_ids) if stored else []
        # TaskContext.attempt counts SQS deliveries: a worker killed before it could
        # record its attempt still counts.
        earlier = [me] * max(0, self.attempt - 1 - len(earlier)) + earlier
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
            errors=list(stored.errors) if stored else [],
            worker_ids=[*earlier, me],
        )
        if self.store:
            try:
                self.store.save(self.result)
            except Exception as exc:
                # The task has not run: keep it for later rather than run it unrecorded.
                delay = self.backend.sqs_options.backoff_for(1) or 1
                logger.exception("cannot record task start id=%s; trying again in %ss", self.envelope.id, delay)
                raise RestartLater(delay=delay, reason="result store unavailable") from exc
        task_started.send(sender=type(self.backend), task_result=self.result)

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
            self.store.save(result)
        task_finished.send(sender=type(self.backend), task_result=result)

    def failed(self, exc: BaseException) -> None:
        """Record the failure; call it inside the ``except`` block (the log reads exc_info)."""
        result = self.result
        kind = type(exc)
        result.errors.append(TaskError(
            exception_class_path=f"{kind.__module__}.{kind.__qualname__}",
            traceback="".join(format_exception(exc)),
        ))
        object.__setattr__(result, "finished_at", timezone.now())
        object.__setattr__(result, "status", TaskResultStatus.FAILED)
        if self.store:
            # With attempts left the task is "ready to be executed again", not finished.
            self.store.save(result, status=None if self.final else TaskResultStatus.READY)
        task_finished.send(sender=type(self.backend), task_result=result)

    @property
    def final(self) -> bool:
        return self.attempt >= self.backend.sqs_options.max_attempts

    def after_failure(self) -> None:
        opts = self.backend.sqs_options
        if not self.final:
            delay = opts.backoff_for(self.attempt)
            raise RestartLater(delay=delay, reason=f"task failed, attempt {self.attempt} of {opts.max_attempts}")
        if opts.dead_letter_queue:
            # Visible at once: SQS's redrive policy (maxReceiveCount = MAX_ATTEMPTS) moves it
            # to the dead-letter queue on its next receive, without running it again.
            raise RestartLater(delay=0, reason="task failed, attempts spent: to the dead-letter queue")
        # Returning: the worker deletes the message; the failure is in the result and the log.
