"""The dashboard's actions on SQS: redrive all, retry one, delete one, purge; move tasks.

Each function does one thing and raises ``SQSError`` (or a subclass) when SQS refuses;
the views turn that into a sentence for the page and a line in the log.
"""

from __future__ import annotations

import dataclasses
import logging

from .. import provisioning, queue_urls
from ..client import get_client, wrap_errors
from ..conf import settings
from ..dead_letters import Redrive, resend_entry
from ..exceptions import QueueDoesNotExist, SQSError, SQSRequestError
from ..registered_queue import RegisteredQueue
from . import browsing
from .errors import PURGE_IN_PROGRESS_CODES

logger = logging.getLogger("django_sqs")

#: Error codes of a server that does not serve the message-move API (moto answers a bare
#: HTTP 500 without an AWS code; other emulators say so in one of these words).
UNSUPPORTED_CODES = {"500", "501", "404", "InvalidAction", "UnknownOperationException",
                     "NotImplemented", "NotImplementedError"}
#: SQS refusing move tasks for one queue (e.g. a FIFO queue where SQS has no redrive for
#: it): django_sqs's redrive for that queue, move tasks still for the others.
QUEUE_REFUSED_CODES = {"UnsupportedOperation", "AWS.SimpleQueueService.UnsupportedOperation"}
#: Messages django_sqs's own redrive moves in one web request (the page says to go again).
FALLBACK_REDRIVE_LIMIT = 1000
#: Endpoints known not to serve move tasks in this process: not asked again (each ask of
#: moto costs botocore's retries of a 500).
_no_move_tasks: set[str | None] = set()


class PurgeTooSoon(SQSError):
    """SQS allows one PurgeQueue per queue every 60 seconds."""


class MessageNotFound(SQSError):
    """The message was not among those received (taken by someone else, or too deep)."""


class SourceUnknown(SQSError):
    """A dead-letter queue shared by several queues, and no way to tell a message's own."""


class Unfinished(SQSError):
    """An action failed after it changed SQS (a retry sent but not deleted, a redrive that
    moved some messages): ``done`` says what happened, for the page and the audit trail;
    the failure is the ``__cause__``."""

    def __init__(self, done):
        super().__init__(f"failed half-way: {done}")
        self.done = done


@dataclasses.dataclass
class RedriveResult:
    #: "started": SQS's move task runs on its own (``task_handle``); "moved": django_sqs moved them.
    how: str
    task_handle: str | None = None
    moved: int = 0
    failed: int = 0
    not_deleted: int = 0


@dataclasses.dataclass
class MoveTask:
    handle: str
    status: str
    moved: int | None
    to_move: int | None
    failure: str | None


def move_tasks_served() -> bool:
    return settings.SQS_ENDPOINT_URL not in _no_move_tasks


def _unsupported(exc: SQSRequestError) -> bool:
    if exc.code in UNSUPPORTED_CODES:
        _no_move_tasks.add(settings.SQS_ENDPOINT_URL)
        logger.info("the server does not serve message move tasks; using django_sqs's redrive (code=%s)", exc.code)
        return True
    return False


def _arn(full_name: str) -> str:
    url = queue_urls.lookup(full_name)
    if url is None:
        raise QueueDoesNotExist(f"queue {full_name!r} does not exist")
    return provisioning.queue_arn(url, full_name)


def redrive(sources: list[RegisteredQueue], suffix: str | None) -> RedriveResult:
    """Move every message of the dead-letter queue (``suffix``) of ``sources`` (the queues
    that share it, usually one) back to the queue it came from.

    StartMessageMoveTask where the server has it (SQS moves them, on its own time); else
    django_sqs's ``Redrive`` here and now (receive, send, delete, ten at a time), which
    needs a single source queue.
    """
    source = sources[0]
    dlq = provisioning.dead_letter_queue(source)
    if dlq is None:
        raise SQSError(f"queue {source.name!r} has no dead-letter queue")
    for rq in sources:
        if queue_urls.lookup(rq.full_name(suffix)) is None:
            # Checked here: django_sqs's redrive would create it (SQS_CREATE_QUEUES), and the
            # dashboard never creates a queue.
            raise QueueDoesNotExist(f"queue {rq.full_name(suffix)!r} does not exist")
    if move_tasks_served():
        dlq_arn = _arn(dlq.full_name(suffix))
        # Several queues share this dead-letter queue: no destination, so that SQS sends
        # each message back to the queue it came from (not all of them to one).
        destination = {"DestinationArn": _arn(source.full_name(suffix))} if len(sources) == 1 else {}
        try:
            with wrap_errors("StartMessageMoveTask", dlq.full_name(suffix)):
                answer = get_client().start_message_move_task(SourceArn=dlq_arn, **destination)
            return RedriveResult("started", task_handle=answer["TaskHandle"])
        except SQSRequestError as exc:
            if exc.code in QUEUE_REFUSED_CODES:
                # Not a second mover beside a running move task (SQS allows one per queue).
                if any(t.status == "RUNNING" for t in move_tasks(dlq.full_name(suffix))):
                    raise SQSError("a redrive of this queue is already running") from exc
                logger.info("move task refused for this queue; using django_sqs's redrive queue=%s code=%s",
                            dlq.full_name(suffix), exc.code)
            elif not _unsupported(exc):
                raise
    if len(sources) > 1:
        raise SourceUnknown(_shared(dlq.full_name(suffix), sources, suffix)
                            + " django_sqs's own redrive cannot tell which queue each message came from.")
    done = Redrive(source, suffix, max_messages=FALLBACK_REDRIVE_LIMIT)
    try:
        done.run()
    except SQSError as exc:
        if done.moved:  # some were sent before it failed: say so, don't lose the count
            raise Unfinished(RedriveResult("moved", moved=done.moved, failed=done.failed,
                                           not_deleted=done.not_deleted)) from exc
        raise
    return RedriveResult("moved", moved=done.moved, failed=done.failed, not_deleted=done.not_deleted)


def move_tasks(dlq_full_name: str) -> list[MoveTask]:
    """The recent move tasks out of a dead-letter queue (ListMessageMoveTasks); [] where unserved."""
    if not move_tasks_served():
        return []
    try:
        with wrap_errors("ListMessageMoveTasks", dlq_full_name):
            results = get_client().list_message_move_tasks(SourceArn=_arn(dlq_full_name), MaxResults=10).get("Results", [])
    except SQSRequestError as exc:
        if exc.code in QUEUE_REFUSED_CODES or _unsupported(exc):
            return []
        raise
    return [
        MoveTask(
            handle=r.get("TaskHandle", ""),
            status=r.get("Status", "?"),
            moved=r.get("ApproximateNumberOfMessagesMoved"),
            to_move=r.get("ApproximateNumberOfMessagesToMove"),
            failure=r.get("FailureReason"),
        )
        for r in results
    ]


def cancel_move_task(dlq_full_name: str, handle: str) -> int | None:
    """Cancel a running move task of this dead-letter queue; returns messages moved so far.

    Only a handle ListMessageMoveTasks gives for this queue is sent: a forged one cannot
    cancel another queue's task (nor be written in the audit trail under this queue).
    """
    running = {t.handle for t in move_tasks(dlq_full_name) if t.status == "RUNNING"}
    if handle not in running:
        raise SQSError("no such running move task for this queue")
    with wrap_errors("CancelMessageMoveTask", dlq_full_name):
        return get_client().cancel_message_move_task(TaskHandle=handle).get("ApproximateNumberOfMessagesMoved")


def _shared(dlq_full_name: str, sources: list[RegisteredQueue], suffix: str | None) -> str:
    names = " and ".join(rq.full_name(suffix) for rq in sources)
    return f"{dlq_full_name} is the dead-letter queue of {names}."


def _source_of(record: dict, sources: list[RegisteredQueue], suffix: str | None, dlq_full_name: str) -> RegisteredQueue:
    """The queue a dead letter came from: SQS names it (DeadLetterQueueSourceArn) when its
    redrive policy moved it; else the one queue of this dead-letter queue."""
    arn = (record.get("Attributes") or {}).get("DeadLetterQueueSourceArn")
    if arn:
        for rq in sources:
            if rq.full_name(suffix) == arn.rpartition(":")[2]:
                return rq
        raise SourceUnknown(f"The message came from {arn.rpartition(':')[2]}, which is not a registered queue "
                            f"of {dlq_full_name}.")
    if len(sources) == 1:
        return sources[0]
    raise SourceUnknown(_shared(dlq_full_name, sources, suffix) + " SQS does not say which one this message came "
                        "from (it was put there by django_sqs, not moved by SQS): it was left in place.")


def retry(sources: list[RegisteredQueue], suffix: str | None, dlq_full_name: str, message_id: str) -> tuple[str, str]:
    """Send one dead-letter message back to the queue it came from (one of ``sources``) and
    delete it from the dead-letter queue; returns its new message id and that queue's SQS
    name. Sent first, deleted after: a failure in between leaves it in both queues, never in
    neither."""
    url, record, held = browsing.find(dlq_full_name, message_id)
    deleted = False
    try:
        if record is None:
            raise MessageNotFound(message_id)
        source = _source_of(record, sources, suffix, dlq_full_name)
        target_url = queue_urls.lookup(source.full_name(suffix))
        if target_url is None:
            raise QueueDoesNotExist(f"queue {source.full_name(suffix)!r} does not exist")
        with wrap_errors("SendMessage", source.full_name(suffix)):
            new_id = get_client().send_message(QueueUrl=target_url, **resend_entry(record, fifo=source.fifo))["MessageId"]
        try:
            _delete(url, dlq_full_name, record)
        except SQSError as exc:  # sent: the page and the audit trail must say so (else retried twice)
            raise Unfinished((new_id, source.full_name(suffix))) from exc
        deleted = True
    finally:
        # Not deleted (the send or the delete failed): visible again at once, not in 30 s.
        held.release(keep=record["ReceiptHandle"] if deleted else None)
    return new_id, source.full_name(suffix)


def delete(dlq_full_name: str, message_id: str) -> None:
    """Delete one message (found by id among the first ones received)."""
    url, record, held = browsing.find(dlq_full_name, message_id)
    deleted = False
    try:
        if record is None:
            raise MessageNotFound(message_id)
        _delete(url, dlq_full_name, record)
        deleted = True
    finally:
        held.release(keep=record["ReceiptHandle"] if deleted else None)


def _delete(url: str, full_name: str, record: dict) -> None:
    with wrap_errors("DeleteMessage", full_name):
        get_client().delete_message(QueueUrl=url, ReceiptHandle=record["ReceiptHandle"])


def purge(full_name: str) -> None:
    """PurgeQueue; ``PurgeTooSoon`` within 60 seconds of the last purge of this queue."""
    url = queue_urls.lookup(full_name)
    if url is None:
        raise QueueDoesNotExist(f"queue {full_name!r} does not exist")
    try:
        with wrap_errors("PurgeQueue", full_name):
            get_client().purge_queue(QueueUrl=url)
    except SQSRequestError as exc:
        if exc.code in PURGE_IN_PROGRESS_CODES:
            raise PurgeTooSoon(str(exc)) from exc
        raise
