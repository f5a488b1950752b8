"""From ``send()`` to the wire: build, encode, check size, resolve the URL, send.

``send``/``send_many``/``send_on_commit`` take a queue *name*; the ``*_message(s)``
functions take the ``RegisteredQueue`` and do the work.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Iterable
from typing import Any

from django.db import models, transaction

from . import eager, provisioning, tracing
from .client import get_client, wrap_errors
from .conf import MAX_MESSAGE_BYTES, settings
from .exceptions import MessageEncodeError, MessageError, MessageTooLarge, SendError
from .message import Message, ModelInstanceMessage
from .registered_queue import RegisteredQueue
from .registry import registry

logger = logging.getLogger("django_sqs")

MAX_BATCH_ENTRIES = 10
MAX_DELAY_SECONDS = 900
#: Times a batch entry that failed on SQS's side (not the sender's) is tried again.
BATCH_RETRIES = 2


def send(queue_name: str, message: Message | None = None, suffix: str | None = None, **kwargs: Any) -> str:
    """Send one message to a registered queue; returns the SQS message id.

    Without ``message``, one of the queue's message class is built from ``kwargs``
    (``send("mail", body="hello")``). Options: ``delay_seconds`` (0–900, standard queues),
    ``group_id`` (required on FIFO queues) and ``deduplication_id`` (FIFO; default:
    content-based deduplication).
    """
    return send_message(registry.get(queue_name), message, suffix=suffix, **kwargs)


def send_many(queue_name: str, messages: Iterable[Any], suffix: str | None = None, **kwargs: Any) -> list[str]:
    """Send many messages with SendMessageBatch (10 per request, under the size limit).

    ``messages`` are message instances or bodies for the queue's message class. Returns
    the ids in input order; raises ``SendError`` listing the entries SQS refused.
    """
    return send_messages(registry.get(queue_name), messages, suffix=suffix, **kwargs)


def send_on_commit(queue_name: str, message: Message | None = None, suffix: str | None = None, using: str | None = None, **kwargs: Any) -> None:
    """Send when the current transaction commits (at once outside a transaction).

    The message is built and checked now, so a bad message raises here, in the caller;
    if the transaction rolls back nothing is sent. Outside a transaction the message is
    sent at once and a failure raises, as ``send`` does. After a commit there is no caller
    left to raise to: a failed send is logged (logger ``django_sqs``, ERROR) with the queue,
    the error and the message body and attributes, so it can be replayed, and it does not
    stop the transaction's other on-commit callbacks (Django would drop them otherwise).
    """
    rq = registry.get(queue_name)
    message = build_message(rq, message, kwargs)
    options = _entry_options(rq, kwargs)
    rq.full_name(suffix)  # a bad or undeclared suffix is reported now, to the caller
    entry = prepare_entry(rq, message, **options)
    # The message is built: only the send options go along, not the fields it was built from.
    send = functools.partial(send_message, rq, message, suffix=suffix, **options)
    if not transaction.get_connection(using).in_atomic_block:
        send()
        return
    transaction.on_commit(functools.partial(_send_after_commit, send, rq, suffix, entry), using=using)


def _send_after_commit(send: functools.partial, rq: RegisteredQueue, suffix: str | None, entry: dict) -> None:
    # Catches everything, rather than relying on on_commit(robust=True) (Django ≥ 5.0 only,
    # and it logs no body): the data is committed, raising would reach whoever left the
    # atomic block and skip the remaining callbacks.
    try:
        send()
    except Exception:
        logger.exception(
            "send after commit failed, message not sent queue=%s suffix=%s body=%s attributes=%s",
            rq.name, suffix or "-", entry["MessageBody"], entry.get("MessageAttributes", {}),
        )


_ENTRY_OPTIONS = ("delay_seconds", "group_id", "deduplication_id")


def _entry_options(rq: RegisteredQueue, kwargs: dict) -> dict:
    return {key: kwargs[key] for key in _ENTRY_OPTIONS if key in kwargs}


def build_message(rq: RegisteredQueue, message: Any, kwargs: dict) -> Message:
    """The message to send: as given, or built from the keyword arguments."""
    fields = {k: v for k, v in kwargs.items() if k not in _ENTRY_OPTIONS}
    if message is None:
        if not fields:
            # A receiver called like a function with no arguments would send an empty
            # (or ``null``) body: say what a send looks like instead.
            raise MessageEncodeError(
                f"Nothing to send to queue {rq.name!r}: pass the message body, as in "
                f"send({rq.name!r}, body=...) or my_receiver(body=...), or a "
                f"{rq.message_class.__name__} instance. Calling a receiver sends; to run it "
                "here, call my_receiver.direct(message)."
            )
        try:
            return rq.message_class(**fields)
        except TypeError as exc:
            raise MessageEncodeError(
                f"Cannot build {rq.message_class.__name__} for queue {rq.name!r} from "
                f"{', '.join(f'{k}=' for k in fields)}: {exc}. A message carries one body: send "
                f"body={{{', '.join(f'{k!r}: ...' for k in fields)}}} on a JSONMessage queue "
                "(message_class=JSONMessage); the only other keywords are suffix, delay_seconds, "
                "group_id and deduplication_id."
            ) from exc
    if fields:
        raise TypeError(f"Pass either a message or its fields ({', '.join(fields)}), not both.")
    # Another class's message would reach the receiver undecodable (a Message on a JSONMessage queue).
    if not isinstance(message, rq.message_class):
        raise MessageEncodeError(
            f"Queue {rq.name!r} sends {rq.message_class.__name__} instances; got {type(message).__name__}. "
            "Pass body=... to build one."
        )
    return message


def message_size(body: str, attributes: dict[str, dict]) -> int:
    """Bytes SQS counts: UTF-8 body plus each attribute's name, type and value."""
    size = len(body.encode("utf-8"))
    for name, attr in attributes.items():
        size += len(name.encode("utf-8")) + len(attr.get("DataType", "").encode("utf-8"))
        value = attr.get("StringValue")
        size += len(value.encode("utf-8")) if value is not None else len(attr.get("BinaryValue", b""))
    return size


def prepare_entry(
    rq: RegisteredQueue,
    message: Message,
    *,
    delay_seconds: int | None = None,
    group_id: str | None = None,
    deduplication_id: str | None = None,
) -> dict:
    """The SendMessage parameters (less QueueUrl) for ``message``, checked before any request."""
    body = message.encode()
    if not isinstance(body, str):
        raise MessageEncodeError(f"{type(message).__name__}.encode_body must return str, not {type(body).__name__}.")
    entry: dict[str, Any] = {"MessageBody": body}
    size = message_size(body, message.message_attributes)
    if size > MAX_MESSAGE_BYTES:
        raise MessageTooLarge(
            f"Message for queue {rq.name!r} is {size:,} bytes (body plus attributes); "
            f"SQS accepts at most {MAX_MESSAGE_BYTES:,}. Nothing was sent."
        )
    # OpenTelemetry's trace context, when tracing is on and it fits (never over the limit).
    attributes = tracing.with_trace_context(message.message_attributes, room=MAX_MESSAGE_BYTES - size)
    if attributes:
        entry["MessageAttributes"] = attributes
    if delay_seconds is not None:
        if rq.fifo:
            raise MessageError(
                f"Queue {rq.name!r} is FIFO: SQS refuses a per-message delay_seconds there "
                "(set DelaySeconds on the queue instead)."
            )
        if not isinstance(delay_seconds, int) or isinstance(delay_seconds, bool) or not 0 <= delay_seconds <= MAX_DELAY_SECONDS:
            raise MessageError(f"delay_seconds must be an int from 0 to {MAX_DELAY_SECONDS}, not {delay_seconds!r}.")
        entry["DelaySeconds"] = delay_seconds
    if rq.fifo:
        if not group_id:
            raise MessageError(
                f"Queue {rq.name!r} is FIFO: pass group_id=... (messages of one group are handled "
                "in order; use one group per customer, order, …, not a single group for everything)."
            )
        entry["MessageGroupId"] = str(group_id)
        if deduplication_id:
            entry["MessageDeduplicationId"] = str(deduplication_id)
    elif group_id or deduplication_id:
        raise MessageError(f"group_id and deduplication_id are for FIFO queues; {rq.name!r} is a standard queue.")
    return entry


def send_message(rq: RegisteredQueue, message: Message | None = None, *, suffix: str | None = None, **kwargs: Any) -> str:
    message = build_message(rq, message, kwargs)
    full_name = rq.full_name(suffix)
    entry = prepare_entry(rq, message, **_entry_options(rq, kwargs))
    if settings.SQS_EAGER:
        return eager.deliver(rq, full_name, entry)
    url = provisioning.queue_url(rq, suffix)
    with wrap_errors("SendMessage", full_name):
        msg_id = get_client().send_message(QueueUrl=url, **entry)["MessageId"]
    logger.debug("sent queue=%s id=%s", full_name, msg_id)
    return msg_id


def batches(entries: list[dict], sizes: list[int]) -> Iterable[list[int]]:
    """Indexes of ``entries`` grouped at most 10 a batch and at most the size limit a batch."""
    batch: list[int] = []
    total = 0
    for index, size in enumerate(sizes):
        if batch and (len(batch) == MAX_BATCH_ENTRIES or total + size > MAX_MESSAGE_BYTES):
            yield batch
            batch, total = [], 0
        batch.append(index)
        total += size
    if batch:
        yield batch


def send_messages(rq: RegisteredQueue, messages: Iterable[Any], *, suffix: str | None = None, **kwargs: Any) -> list[str]:
    options = _entry_options(rq, kwargs)
    unknown = set(kwargs) - set(options)
    if unknown:
        raise TypeError(f"send_many() got unexpected keyword arguments: {', '.join(sorted(unknown))}")
    built = [_as_message(rq, m) for m in messages]
    if options.get("deduplication_id") and len(built) > 1:
        # One id for several messages would make SQS drop all but the first, silently.
        raise MessageError(
            "send_many() cannot give one deduplication_id to several messages; SQS would keep only "
            "the first. Leave it out (content-based deduplication) or call send() per message."
        )
    entries = [prepare_entry(rq, m, **options) for m in built]
    full_name = rq.full_name(suffix)
    if settings.SQS_EAGER:
        return [eager.deliver(rq, full_name, entry) for entry in entries]
    if not entries:
        return []
    sizes = [message_size(e["MessageBody"], e.get("MessageAttributes", {})) for e in entries]
    url = provisioning.queue_url(rq, suffix)
    ids: list[str | None] = [None] * len(entries)
    failed: list[tuple[int, str, str]] = []
    for batch in batches(entries, sizes):
        failed.extend(send_batch(url, full_name, entries, batch, ids))
    if failed:
        raise SendError(
            f"SQS refused {len(failed)} of {len(entries)} messages for queue {full_name!r}: "
            + "; ".join(f"#{i} {code}: {text}" for i, code, text in failed[:5]),
            ids,
            failed,
        )
    return ids  # type: ignore[return-value]


def _as_message(rq: RegisteredQueue, item: Any) -> Message:
    """A ``send_many`` item as a message: as given, a model instance, or a body."""
    if isinstance(item, Message):
        return build_message(rq, item, {})
    if issubclass(rq.message_class, ModelInstanceMessage) and isinstance(item, models.Model):
        return rq.message_class(instance=item)
    return rq.message_class(body=item)


def send_batch(url: str, full_name: str, entries: list[dict], batch: list[int], ids: list) -> list[tuple[int, str, str]]:
    """Send one batch; entries that failed on SQS's side (not the sender's) are tried
    again with backoff. Returns ``(index, code, message)`` of the entries refused in the end."""
    pending, refused = batch, []
    for attempt in range(BATCH_RETRIES + 1):
        if attempt:
            logger.warning("retrying %d batch entries queue=%s", len(pending), full_name)
            time.sleep(0.2 * 2**attempt)
        with wrap_errors("SendMessageBatch", full_name):
            response = get_client().send_message_batch(
                QueueUrl=url, Entries=[{"Id": str(i), **entries[i]} for i in pending]
            )
        for ok in response.get("Successful", []):
            ids[int(ok["Id"])] = ok["MessageId"]
        errors = [(int(e["Id"]), e.get("Code", ""), e.get("Message", ""), e.get("SenderFault")) for e in response.get("Failed", [])]
        refused += [(i, code, text) for i, code, text, sender in errors if sender]
        retryable = [(i, code, text) for i, code, text, sender in errors if not sender]
        pending = [i for i, _, _ in retryable]
        if not pending:
            break
    else:
        refused += retryable
    return sorted(refused)
