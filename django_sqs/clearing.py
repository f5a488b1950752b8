"""Emptying queues for ``sqs_clear``: receive and batch-delete (counted), or PurgeQueue.

Neither creates a queue: one that does not exist is reported as such.
"""

from __future__ import annotations

import dataclasses
import logging

from . import queue_urls, receipts
from .client import get_client, wrap_errors
from .exceptions import SQSRequestError
from .status import queue_counts

logger = logging.getLogger("django_sqs")

#: Seconds a message received for deletion stays hidden: long enough to delete it.
CLEAR_VISIBILITY_TIMEOUT = 60
PURGE_IN_PROGRESS_CODES = {"AWS.SimpleQueueService.PurgeQueueInProgress", "PurgeQueueInProgress"}


@dataclasses.dataclass
class Cleared:
    """What ``clear_queue`` did to one queue."""

    full_name: str
    exists: bool = True
    deleted: int = 0
    #: Messages SQS refused to delete (they come back after their visibility timeout).
    failed: int = 0
    #: What could not be received, approximately: held by a worker, or not due yet.
    in_flight: int = 0
    delayed: int = 0


def clear_queue(full_name: str) -> Cleared:
    """Receive and delete the visible messages of a queue until none is left.

    Each round is one ReceiveMessage (10 messages) and one DeleteMessageBatch. A short
    receive can come back empty while messages remain (SQS samples its servers), so an
    empty one is checked against the queue's counts and followed by a 1 s long poll when
    they say messages are left. In-flight and delayed messages cannot be received: they
    are left, and counted in the result.
    """
    url = queue_urls.lookup(full_name)
    if url is None:
        return Cleared(full_name, exists=False)
    result = Cleared(full_name)
    client = get_client()
    wait = 0
    while True:
        with wrap_errors("ReceiveMessage", full_name):
            messages = client.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=10,
                VisibilityTimeout=CLEAR_VISIBILITY_TIMEOUT,
                WaitTimeSeconds=wait,
            ).get("Messages", [])
        if messages:
            _delete(url, full_name, messages, result)
            wait = 0
            continue
        counts = queue_counts(full_name) or {"visible": 0, "in_flight": 0, "delayed": 0}
        if not counts["visible"] or wait:
            result.in_flight, result.delayed = counts["in_flight"], counts["delayed"]
            return result
        wait = 1


def _delete(url: str, full_name: str, messages: list[dict], result: Cleared) -> None:
    ok, failed = receipts.batch_request("DeleteMessageBatch", url, full_name, [m["ReceiptHandle"] for m in messages])
    result.deleted += len(ok)
    for _, code, text in failed:
        result.failed += 1
        logger.warning("delete failed queue=%s code=%s reason=%s", full_name, code, text)


def purge_queue(full_name: str) -> str:
    """PurgeQueue: ``"purged"``, ``"in progress"`` (SQS allows one purge per 60 s) or
    ``"not created"``. SQS deletes the messages within 60 s and does not say how many."""
    url = queue_urls.lookup(full_name)
    if url is None:
        return "not created"
    try:
        with wrap_errors("PurgeQueue", full_name):
            get_client().purge_queue(QueueUrl=url)
    except SQSRequestError as exc:
        if exc.code in PURGE_IN_PROGRESS_CODES:
            return "in progress"
        raise
    return "purged"
