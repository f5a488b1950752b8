"""From ``enqueue`` to the wire: results, envelopes, the queue and the send.

``enqueue`` sends one message (SendMessage); ``enqueue_many`` sends through django_sqs's
``send_many`` (SendMessageBatch, 10 a request, split by size); ``enqueue_on_commit`` checks
everything now and sends when the transaction of ``using`` commits. The size limit is
checked before any request (``MessageTooLarge``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from collections.abc import Iterable, Sequence
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.crypto import get_random_string

from ..exceptions import SendError
from ..message import Tick
from ..sending import MAX_DELAY_SECONDS, prepare_entry, send_message, send_messages
from . import queues
from .compat import (
    InvalidTask,
    Task,
    TaskResult,
    TaskResultStatus,
    normalize_json,
    task_backends,
    task_enqueued,
)
from .envelope import Envelope, TaskMessage, seconds_until

__all__ = ["MAX_DELAY_SECONDS", "enqueue_many", "enqueue_on_commit"]


def new_result(backend, task: Task, args: Sequence, kwargs: dict) -> TaskResult:
    """A READY result with a new id (32 random characters, as Django's backends use)."""
    try:
        return _result(backend, task, args, kwargs)
    except (TypeError, ValueError) as exc:  # Django's normalize_json: "Unsupported type: ..."
        raise type(exc)(
            f"{task.module_path}: {_not_json(args, kwargs)} cannot be sent as JSON ({exc}). Task arguments "
            "are JSON: str, int, float, bool, None, and lists and dicts of them (pass an id, not an object)."
        ) from exc


def _not_json(args: Sequence, kwargs: dict) -> str:
    """Which argument ``normalize_json`` refuses, for the error message."""
    named = [(f"argument {i}", value) for i, value in enumerate(args)]
    named += [(f"keyword argument {key!r}", value) for key, value in kwargs.items()]
    for name, value in named:
        try:
            normalize_json(value)
        except (TypeError, ValueError):
            return f"{name} ({type(value).__name__})"
    return "an argument"


def _result(backend, task: Task, args: Sequence, kwargs: dict) -> TaskResult:
    return TaskResult(
        task=task,
        id=get_random_string(32),
        status=TaskResultStatus.READY,
        enqueued_at=None,
        started_at=None,
        finished_at=None,
        last_attempted_at=None,
        args=list(args),
        kwargs=dict(kwargs),
        backend=backend.alias,
        errors=[],
        worker_ids=[],
    )


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    # Envelopes always carry aware times, so a worker can compare them with its clock.
    if value is not None and timezone.is_naive(value):
        return timezone.make_aware(value)
    return value


def envelope_of(result: TaskResult) -> Envelope:
    task = result.task
    return Envelope(
        id=result.id,
        task=task.module_path,
        args=result.args,
        kwargs=result.kwargs,
        backend=result.backend,
        queue=task.queue_name,
        priority=task.priority,
        enqueued_at=_aware(result.enqueued_at or timezone.now()),  # None: sized before it is sent
        run_after=_aware(task.run_after),
    )


def delay_for(task: Task) -> int | None:
    """DelaySeconds for a task: what is left until ``run_after``, at most SQS's 15 minutes
    (a worker sends a task due later on again)."""
    if task.run_after is None:
        return None
    return min(seconds_until(_aware(task.run_after)), MAX_DELAY_SECONDS) or None


def _send_options(rq, task: Task, delay_seconds: int | None) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if delay_seconds:
        options["delay_seconds"] = delay_seconds
    if rq.fifo:
        # One group per task function: its tasks run in order; content-based
        # deduplication is safe, every envelope carries a unique result id.
        options["group_id"] = task.module_path
    return options


def send_envelopes(backend, task: Task, envelopes: list[Envelope], *, delay_seconds: int | None) -> list[str]:
    """Send envelopes of ``task`` to its queue and priority level; returns the message ids."""
    rq = queues.registered_queue(backend, task.queue_name)
    suffix = backend.sqs_options.suffix_for(task.priority)
    options = _send_options(rq, task, delay_seconds)
    messages = [TaskMessage(e) for e in envelopes]
    for message, envelope in zip(messages, envelopes, strict=True):
        if envelope.tick is not None:  # a schedule's tick: also readable as message.tick
            message.message_attributes.update(envelope.tick.as_attributes())
    if len(messages) == 1:
        return [send_message(rq, messages[0], suffix=suffix, **options)]
    return send_messages(rq, messages, suffix=suffix, **options)


def send_results(backend, task: Task, results: list[TaskResult], *, tick: Tick | None = None) -> None:
    """Stamp ``enqueued_at``, record the results (with a store), send, signal. ``tick``:
    the schedule's tick that enqueues them (``django_sqs.periodic``), carried in the envelope."""
    now = timezone.now()
    for result in results:
        object.__setattr__(result, "enqueued_at", now)
    store = backend.result_store
    if store:
        # Before the send: a fast worker must find the row to update.
        store.create(results)
    try:
        envelopes = [dataclasses.replace(envelope_of(r), tick=tick) for r in results]
        send_envelopes(backend, task, envelopes, delay_seconds=delay_for(task))
    except SendError as exc:
        failed = [results[i] for i, _, _ in exc.failed]
        if store:
            store.discard(failed)
        for result, msg_id in zip(results, exc.ids, strict=True):
            if msg_id is not None:
                task_enqueued.send(type(backend), task_result=result)
        raise
    except BaseException:
        if store:
            store.discard(results)
        raise
    for result in results:
        task_enqueued.send(type(backend), task_result=result)


def check_size(backend, task: Task, results: list[TaskResult]) -> None:
    """Raise ``MessageTooLarge`` (or another ``MessageError``) now, before any request."""
    rq = queues.registered_queue(backend, task.queue_name)
    options = _send_options(rq, task, delay_for(task))
    for result in results:
        prepare_entry(rq, TaskMessage(envelope_of(result)), **options)


def sqs_backend_of(task: Task):
    """The task's backend, which must be an SQS backend (these helpers are not Django's API)."""
    backend = task_backends[task.backend]
    if not hasattr(backend, "sqs_options"):  # what every SQSBackend has
        raise InvalidTask(f"Backend {task.backend!r} of {task.module_path} is a {type(backend).__name__}, not an SQSBackend.")
    return backend


def enqueue_many(task: Task, items: Iterable[tuple[Sequence, dict]]) -> list[TaskResult]:
    """Enqueue ``task`` once per ``(args, kwargs)`` item, with SendMessageBatch.

    Every item is checked before anything is sent. Results come back in the order of
    ``items``; if SQS refuses some entries, the others are sent and ``SendError`` lists
    the refused ones (``exc.failed``: index, code, message).
    """
    backend = sqs_backend_of(task)
    backend.validate_task(task)
    results = []
    for item in items:
        try:
            args, kwargs = item
        except (TypeError, ValueError):
            raise TypeError(f"enqueue_many items are (args, kwargs) pairs, not {item!r}") from None
        results.append(new_result(backend, task, args, kwargs))
    if results:
        check_size(backend, task, results)
        send_results(backend, task, results)
    return results


def enqueue_on_commit(task: Task, *args: Any, using: str | None = None, **kwargs: Any) -> TaskResult:
    """Enqueue ``task`` when the transaction of database ``using`` commits (at once
    outside a transaction); if it rolls back, nothing is sent.

    The task and its arguments are checked now, so a mistake raises here, in the caller.
    The returned result is READY; its ``enqueued_at`` is set when it is sent.
    """
    backend = sqs_backend_of(task)
    backend.validate_task(task)
    result = new_result(backend, task, args, kwargs)
    check_size(backend, task, [result])
    transaction.on_commit(functools.partial(send_results, backend, task, [result]), using=using)
    return result
