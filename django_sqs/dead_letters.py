"""Dead-letter queues: giving up on a message early, and moving messages back.

``send_to_dead_letter_queue(message)`` is what a receiver calls to give up on a message
before SQS would (after ``max_receive_count`` receives). ``Redrive`` is the work behind
``manage.py sqs_redrive``: it moves messages from a queue's dead-letter queue back to the
queue, deleting each from the dead-letter queue only after SQS accepted it in the queue,
so an interruption at any point may duplicate a message but never loses one.
"""

from __future__ import annotations

import logging
from typing import Any

from . import eager, provisioning, queue_urls, receipts
from .client import get_client, wrap_errors
from .conf import settings
from .exceptions import ConfigurationError, QueueDoesNotExist, SQSError, UnknownQueue
from .message import Message
from .registered_queue import RegisteredQueue
from .registry import registry
from .sending import batches, message_size, send_batch

logger = logging.getLogger("django_sqs")

#: Seconds a message received by ``Redrive`` stays hidden in the dead-letter queue: the
#: time it has to be sent and deleted. Interrupted there, it is visible again after this.
REDRIVE_VISIBILITY_TIMEOUT = 60
#: ``Redrive`` long-polls for this long, so that an empty answer means an empty queue.
REDRIVE_WAIT_SECONDS = 1
_ATTRIBUTE_FIELDS = ("DataType", "StringValue", "BinaryValue")


def queue_of(full_name: str) -> tuple[RegisteredQueue, str | None]:
    """The registered queue and suffix whose full SQS name is ``full_name``."""
    found = registry.find_full_name(full_name)
    if found is not None:
        return found
    raise UnknownQueue(f"No registered queue has the SQS name {full_name!r}.")


def resend_entry(record: dict, *, fifo: bool) -> dict[str, Any]:
    """SendMessage parameters that put a received message, body and message attributes
    as they were, into another queue. On a FIFO queue the message keeps its group, and
    its deduplication id is derived from its message id: sent twice within SQS's
    5-minute window (a retry, an interrupted redrive), it is kept once."""
    entry: dict[str, Any] = {"MessageBody": record.get("Body", "")}
    attributes = {
        name: {k: v for k, v in value.items() if k in _ATTRIBUTE_FIELDS}
        for name, value in (record.get("MessageAttributes") or {}).items()
    }
    if attributes:
        entry["MessageAttributes"] = attributes
    if fifo:
        system = record.get("Attributes") or {}
        entry["MessageGroupId"] = system.get("MessageGroupId") or "default"
        entry["MessageDeduplicationId"] = f"moved-{record['MessageId']}"
    return entry


def send_to_dead_letter_queue(message: Message, reason: str = "") -> str:
    """Put a received message into its queue's dead-letter queue; returns the new message id.

    For a receiver that knows a message will never succeed. The body and message
    attributes go as received, to the dead-letter queue of the queue (and suffix) the
    message came from. The original is not deleted here: return from the receiver
    afterwards, and the worker deletes it as usual. If the send fails, the exception
    propagates, the receiver fails, and the original stays. ``reason`` is logged.
    """
    full_name, new_id = move_to_dead_letter_queue(message)
    logger.warning(
        "sent to dead-letter queue queue=%s id=%s dead_letter_queue=%s new_id=%s reason=%s",
        message.queue_name, message.id, full_name, new_id, reason or "-",
    )
    return new_id


def move_to_dead_letter_queue(message: Message, body: str | None = None) -> tuple[str, str]:
    """``send_to_dead_letter_queue`` without its log line, for callers that log the move
    their own way; ``body`` replaces the message's body. Returns the dead-letter queue's
    SQS name and the new message id."""
    if message.queue_name is None or message.id is None:
        raise SQSError("send_to_dead_letter_queue() needs a received message (it has no queue or id).")
    rq, suffix = queue_of(message.queue_name)
    dlq = provisioning.dead_letter_queue(rq)
    if dlq is None:
        raise ConfigurationError(
            f"Queue {rq.name!r} has no dead-letter queue; declare one with "
            "receiver(..., dead_letter_queue=...) to use send_to_dead_letter_queue()."
        )
    if body is None:
        body = message.raw_body if message.raw_body is not None else message.encode()
    record = {
        "MessageId": message.id,
        "Body": body,
        "MessageAttributes": message.message_attributes,
        "Attributes": message.attributes,
    }
    entry = resend_entry(record, fifo=dlq.fifo)
    full_name = dlq.full_name(suffix)
    if settings.SQS_EAGER:
        return full_name, eager.deliver(dlq, full_name, entry)
    url = provisioning.queue_url(dlq, suffix)
    with wrap_errors("SendMessage", full_name):
        return full_name, get_client().send_message(QueueUrl=url, **entry)["MessageId"]


class Redrive:
    """Moves the messages of ``rq``'s dead-letter queue (with ``suffix``) back into ``rq``.

    Each round: ReceiveMessage (up to 10) from the dead-letter queue, SendMessageBatch to
    the queue, DeleteMessageBatch from the dead-letter queue for the entries that were
    sent. The counts are attributes, so they can be reported after an interruption.
    """

    def __init__(self, rq: RegisteredQueue, suffix: str | None = None, max_messages: int | None = None):
        dlq = provisioning.dead_letter_queue(rq)
        if dlq is None:
            raise ConfigurationError(f"Queue {rq.name!r} declares no dead_letter_queue; there is nothing to redrive.")
        self.rq = rq
        self.dlq = dlq
        self.suffix = suffix
        self.max_messages = max_messages
        self.source = dlq.full_name(suffix)
        self.target = rq.full_name(suffix)
        #: Messages sent to the queue (and deleted from the dead-letter queue, unless counted in ``not_deleted``).
        self.moved = 0
        #: Messages SQS refused to take into the queue; they stay in the dead-letter queue.
        self.failed = 0
        self._sent: set[str] = set()  # dead-letter message ids sent in this run
        self._refused: set[str] = set()
        self._undeleted: set[str] = set()

    @property
    def not_deleted(self) -> int:
        """Messages sent but not deleted from the dead-letter queue: they are in both."""
        return len(self._undeleted)

    def run(self) -> Redrive:
        source_url = queue_urls.lookup(self.source)
        if source_url is None:
            raise QueueDoesNotExist(f"The dead-letter queue {self.source!r} does not exist: nothing to redrive.")
        target_url = provisioning.queue_url(self.rq, self.suffix)
        client = get_client()
        while self.max_messages is None or self.moved < self.max_messages:
            wanted = 10 if self.max_messages is None else min(10, self.max_messages - self.moved)
            with wrap_errors("ReceiveMessage", self.source):
                records = client.receive_message(
                    QueueUrl=source_url,
                    MaxNumberOfMessages=wanted,
                    VisibilityTimeout=REDRIVE_VISIBILITY_TIMEOUT,
                    WaitTimeSeconds=REDRIVE_WAIT_SECONDS,
                    MessageSystemAttributeNames=["All"],
                    MessageAttributeNames=["All"],
                ).get("Messages", [])
            if not records:  # the dead-letter queue has nothing left to give
                break
            # Sent earlier in this run but its delete failed: delete it, don't send it again.
            again = [r for r in records if r["MessageId"] in self._sent]
            # Refused earlier: left where it is (hidden for REDRIVE_VISIBILITY_TIMEOUT by this
            # receive). A round of only such messages is not the end: others may be behind them.
            fresh = [r for r in records if r["MessageId"] not in self._sent | self._refused]
            sent = self._send(target_url, fresh)
            self._delete(source_url, sent + again)
        return self

    def _send(self, url: str, records: list[dict]) -> list[dict]:
        if not records:
            return []
        entries = [resend_entry(r, fifo=self.rq.fifo) for r in records]
        sizes = [message_size(e["MessageBody"], e.get("MessageAttributes", {})) for e in entries]
        ids: list[str | None] = [None] * len(entries)
        try:
            for batch in batches(entries, sizes):
                for index, code, text in send_batch(url, self.target, entries, batch, ids):
                    self.failed += 1
                    self._refused.add(records[index]["MessageId"])
                    logger.error(
                        "redrive refused, left in the dead-letter queue queue=%s id=%s code=%s reason=%s",
                        self.source, records[index]["MessageId"], code, text,
                    )
        finally:  # also when a later batch fails or the run is interrupted
            sent = [r for r, new_id in zip(records, ids, strict=True) if new_id]
            self._sent.update(r["MessageId"] for r in sent)
            # In both queues until SQS confirms the delete.
            self._undeleted.update(r["MessageId"] for r in sent)
            self.moved += len(sent)
        return sent

    def _delete(self, url: str, records: list[dict]) -> None:
        if not records:
            return
        ok, failed = receipts.batch_request(
            "DeleteMessageBatch", url, self.source, [r["ReceiptHandle"] for r in records]
        )
        for index in ok:
            self._undeleted.discard(records[index]["MessageId"])
        for index, code, _ in failed:
            logger.warning(
                "sent but not deleted from the dead-letter queue queue=%s id=%s code=%s",
                self.source, records[index]["MessageId"], code,
            )
