"""From a ``RegisteredQueue`` to an SQS queue that exists with the right attributes.

Workers and web processes come here only when a queue is not in ``SQS_QUEUE_URLS``:
one GetQueueUrl per process, and CreateQueue if allowed. ``create_or_update`` is the
deploy-time path behind ``manage.py sqs_create_queues``.
"""

from __future__ import annotations

from . import queue_urls
from .client import get_client, wrap_errors
from .conf import settings
from .exceptions import QueueDoesNotExist
from .registered_queue import RegisteredQueue


def queue_url(rq: RegisteredQueue, suffix: str | None = None) -> str:
    full = rq.full_name(suffix)
    url = queue_urls.lookup(full)
    if url:
        return url
    if not settings.SQS_CREATE_QUEUES:
        raise QueueDoesNotExist(
            f"SQS queue {full!r} does not exist and SQS_CREATE_QUEUES is False. "
            "Create it (manage.py sqs_create_queues) or list its URL in SQS_QUEUE_URLS."
        )
    return queue_urls.create(full, desired_attributes(rq, suffix))


def dead_letter_queue(rq: RegisteredQueue) -> RegisteredQueue | None:
    from .registry import registry

    return registry.get(rq.dead_letter_queue) if rq.dead_letter_queue else None


def desired_attributes(rq: RegisteredQueue, suffix: str | None = None) -> dict[str, str]:
    """The attributes ``rq`` should have; creates its dead-letter queue first if needed."""
    dlq = dead_letter_queue(rq)
    arn = queue_arn(queue_url(dlq, suffix), dlq.full_name(suffix)) if dlq else None
    return rq.queue_attributes(arn)


def queue_arn(url: str, full_name: str) -> str:
    with wrap_errors("GetQueueAttributes", full_name):
        attrs = get_client().get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return attrs["Attributes"]["QueueArn"]


def create_or_update(rq: RegisteredQueue, suffix: str | None = None) -> str:
    """Make the queue exist with its desired attributes: 'created', 'updated' or 'unchanged'."""
    full = rq.full_name(suffix)
    wanted = desired_attributes(rq, suffix)
    url = queue_urls.lookup(full)
    if url is None:
        queue_urls.create(full, wanted)
        return "created"
    with wrap_errors("GetQueueAttributes", full):
        current = get_client().get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    # FifoQueue cannot change after creation; everything else can be set again.
    changes = {
        key: value
        for key, value in wanted.items()
        if key != "FifoQueue" and not _same(key, current.get(key), value)
    }
    if not changes:
        return "unchanged"
    with wrap_errors("SetQueueAttributes", full):
        get_client().set_queue_attributes(QueueUrl=url, Attributes=changes)
    return "updated"


def _same(key: str, current: str | None, wanted: str) -> bool:
    if current is None:
        return False
    if key == "RedrivePolicy":
        import json

        try:
            cur = json.loads(current)
            new = json.loads(wanted)
        except ValueError:
            return False
        return cur.get("deadLetterTargetArn") == new.get("deadLetterTargetArn") and int(
            cur.get("maxReceiveCount", 0)
        ) == int(new.get("maxReceiveCount", 0))
    return str(current).lower() == str(wanted).lower()
