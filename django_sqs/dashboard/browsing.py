"""Peeking at a queue's messages without consuming them, and finding one message by id.

SQS has no "peek": a message is seen only by receiving it, which hides it and adds one to
its ApproximateReceiveCount. A peek receives up to ``PAGE_SIZE`` messages per round,
hidden for at most ``HOLD_SECONDS``, and makes every one of them visible again
(ChangeMessageVisibilityBatch to 0) before the page is answered, also when something
failed half-way. Page N is reached by receiving N pages' worth in one request (SQS has
no offset), so a page costs about N ReceiveMessage and N ChangeMessageVisibilityBatch.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging

import botocore.exceptions
from django.urls import NoReverseMatch, reverse

from .. import queue_urls, receipts
from ..client import error_code, get_client, wrap_errors
from ..exceptions import QueueDoesNotExist, SQSError, SQSRequestError
from ..message import ModelInstanceMessage
from ..registered_queue import RegisteredQueue
from ..sending import message_size
from ..tasks.envelope import Envelope

logger = logging.getLogger("django_sqs")

PAGE_SIZE = 10
#: Pages one can step through: page N receives N pages' worth of messages.
MAX_PAGES = 10
#: Seconds a peeked message is hidden if making it visible again fails (a crash mid-page).
HOLD_SECONDS = 30
#: Characters of a body shown; the rest is cut (a body can be 1 MiB).
SHOWN_CHARACTERS = 2000
#: Rounds of ReceiveMessage spent looking for one message (retry, delete).
FIND_ROUNDS = 10


@dataclasses.dataclass
class PeekedMessage:
    """What the page shows of one message: text only, already cut to size."""

    id: str
    size: int
    receive_count: int
    sent_at: dt.datetime | None
    first_received_at: dt.datetime | None
    group_id: str | None
    attributes: list[tuple[str, str]]
    raw: str
    raw_cut: bool
    decoded: str | None
    decode_error: str | None
    task_id: str | None = None
    task_result_url: str | None = None


@dataclasses.dataclass
class Page:
    number: int
    messages: list[PeekedMessage]
    #: True when at least one more message was seen beyond this page.
    more: bool
    #: True when making the messages visible again failed (they return after HOLD_SECONDS).
    release_failed: bool = False


def peek(rq: RegisteredQueue, full_name: str, number: int = 1) -> Page:
    """Page ``number`` (1-based, up to ``MAX_PAGES``) of the messages of ``full_name``."""
    number = max(1, min(number, MAX_PAGES))
    wanted = number * PAGE_SIZE + 1  # one more, to know whether there is a next page
    url = _url(full_name)
    found: dict[str, dict] = {}
    with _Held(url, full_name) as held:
        for _ in range(2 * number + 1):  # a receive may return fewer than asked
            records = _receive(url, full_name, min(PAGE_SIZE, wanted - len(found)))
            if not records:
                break
            held.extend(records)
            for record in records:
                found.setdefault(record["MessageId"], record)
            if len(found) >= wanted:
                break
    shown = list(found.values())[(number - 1) * PAGE_SIZE:number * PAGE_SIZE]
    return Page(number, [describe(rq, full_name, r) for r in shown], len(found) > number * PAGE_SIZE, held.failed)


def find(full_name: str, message_id: str) -> tuple[str, dict | None, _Held]:
    """Receive until the message ``message_id`` turns up; ``(url, record or None, held)``.

    The caller acts on the record within ``HOLD_SECONDS`` and then calls ``held.release()``
    (every other message received on the way is made visible again there).
    """
    url = _url(full_name)
    held = _Held(url, full_name)
    try:
        for _ in range(FIND_ROUNDS):
            records = _receive(url, full_name, PAGE_SIZE)
            if not records:
                break
            held.extend(records)
            for record in records:
                if record["MessageId"] == message_id:
                    return url, record, held
    except BaseException:
        held.release()
        raise
    return url, None, held


class _Held(list):
    """Received records to make visible again; ``failed`` after a release that did not work."""

    def __init__(self, url: str, full_name: str):
        super().__init__()
        self.url, self.full_name, self.failed = url, full_name, False

    def release(self, keep: str | None = None) -> None:
        """Make every held message visible again, except the one with receipt handle ``keep``."""
        handles = [r["ReceiptHandle"] for r in self if r["ReceiptHandle"] != keep]
        self.clear()
        for start in range(0, len(handles), receipts.MAX_ENTRIES):
            try:
                _, refused = receipts.batch_request(
                    "ChangeMessageVisibilityBatch", self.url, self.full_name,
                    handles[start:start + receipts.MAX_ENTRIES], VisibilityTimeout=0,
                )
            except SQSError as exc:
                logger.warning("peeked messages not made visible again queue=%s error=%s", self.full_name, exc)
                self.failed = True
                continue
            if refused:  # deleted or moved by someone else meanwhile: nothing to make visible
                logger.info("peek release partly refused queue=%s codes=%s", self.full_name, [c for _, c, _ in refused])

    def __enter__(self) -> _Held:
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def _url(full_name: str) -> str:
    url = queue_urls.lookup(full_name)
    if url is None:
        raise QueueDoesNotExist(f"queue {full_name!r} does not exist")
    return url


def _receive(url: str, full_name: str, count: int) -> list[dict]:
    with wrap_errors("ReceiveMessage", full_name):
        return get_client().receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=max(1, count),
            VisibilityTimeout=HOLD_SECONDS,
            # A long poll asks every SQS server, so a short answer does not mean an empty queue.
            WaitTimeSeconds=1,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])


def describe(rq: RegisteredQueue, full_name: str, record: dict) -> PeekedMessage:
    """The page's view of one received record: decoded by the queue's message class, cut to
    size. Whatever the body holds, this returns (the template escapes the text)."""
    message = rq.message_class.from_sqs(record, full_name)
    raw = record.get("Body") or ""
    system = record.get("Attributes") or {}
    attributes = [
        (name, _cut(str(value.get("StringValue", value.get("BinaryValue", ""))), 200)[0])
        for name, value in sorted((record.get("MessageAttributes") or {}).items())
    ]
    shown = PeekedMessage(
        id=record.get("MessageId", ""),
        size=message_size(raw, record.get("MessageAttributes") or {}),
        receive_count=message.receive_count,
        sent_at=message.sent_at,
        first_received_at=_timestamp(system.get("ApproximateFirstReceiveTimestamp")),
        group_id=message.group_id,
        attributes=attributes,
        raw="",
        raw_cut=False,
        decoded=None,
        decode_error=None,
    )
    shown.raw, shown.raw_cut = _cut(raw)
    try:
        body = message.get_body()
        if isinstance(body, Envelope):
            shown.task_id = body.id
            shown.task_result_url = _task_result_url(body.id)
            body = body.as_json()
        if isinstance(message, ModelInstanceMessage):
            body = {**body, "row": _row(message)}
        shown.decoded = _cut(_text(body))[0]
    except Exception as exc:  # a message class of the project may raise anything: show it, never fail
        shown.decode_error = _cut(_reason(exc, full_name, shown.id), 500)[0]
    return shown


def _reason(exc: Exception, full_name: str, message_id: str) -> str:
    """Why a body could not be shown. A message class of the project may call AWS (a body
    kept in S3): AWS's text names the account and the role, so it goes to the log only."""
    if isinstance(exc, (SQSRequestError, botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError)):
        logger.warning("dashboard: message not decoded queue=%s id=%s error=%s", full_name, message_id, exc)
        return f"{type(exc).__name__} ({getattr(exc, 'code', '') or error_code(exc)}): the details are in the server log"
    return f"{type(exc).__name__}: {exc}"


def _row(message: ModelInstanceMessage) -> str:
    try:
        return repr(message.get_instance())
    except Exception as exc:  # the row is gone, the model is not allowed, the database failed
        return f"not loaded: {_reason(exc, message.queue_name or '', message.id or '')}"


def _text(body) -> str:
    if isinstance(body, str):
        return body
    try:
        return json.dumps(body, indent=2, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        return repr(body)


def _cut(text: str, limit: int = SHOWN_CHARACTERS) -> tuple[str, bool]:
    return (text[:limit], True) if len(text) > limit else (text, False)


def _timestamp(ms: str | None) -> dt.datetime | None:
    return dt.datetime.fromtimestamp(int(ms) / 1000, tz=dt.timezone.utc) if ms else None


def _task_result_url(task_id: str) -> str | None:
    try:
        return reverse("admin:django_sqs_results_taskresultrecord_change", args=[task_id])
    except NoReverseMatch:  # the database result store's app or the admin is not installed
        return None
