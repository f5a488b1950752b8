"""From a ``RegisteredQueue`` to an SQS queue that exists with the right attributes.

Two paths. At run time (``queue_url``), workers and web processes come here only for a
queue that is not in ``SQS_QUEUE_URLS``: one GetQueueUrl per process, and CreateQueue
when ``SQS_CREATE_QUEUES`` allows it. At deploy time, ``manage.py sqs_create_queues``
calls ``create_or_update`` for each queue in ``plan()`` order (dead-letter queues first),
whatever ``SQS_CREATE_QUEUES`` says.

django_sqs manages four attributes: VisibilityTimeout, RedrivePolicy, FifoQueue and
ContentBasedDeduplication. Any other attribute (retention, encryption, an access policy)
is left as it is, so it can be set by hand or by infrastructure code.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable

from . import queue_urls
from .client import NONEXISTENT_QUEUE_CODES, get_client, wrap_errors
from .conf import settings
from .exceptions import QueueDoesNotExist, SQSRequestError
from .registered_queue import RegisteredQueue
from .registry import registry

#: The attributes ``create_or_update`` compares and sets.
MANAGED_ATTRIBUTES = ("VisibilityTimeout", "RedrivePolicy", "FifoQueue", "ContentBasedDeduplication")


@dataclasses.dataclass
class Provisioned:
    """What ``create_or_update`` did to one SQS queue."""

    full_name: str
    #: "created", "updated" or "unchanged".
    action: str
    url: str
    #: Attribute name → (value before, value now), for "updated".
    changes: dict[str, tuple[str | None, str]] = dataclasses.field(default_factory=dict)
    #: Set when SQS_QUEUE_URLS lists another URL than the one SQS gave the new queue.
    note: str = ""

    def describe(self) -> str:
        """``t__orders: updated (VisibilityTimeout 60 → 30)``."""
        text = f"{self.full_name}: {self.action}"
        if self.changes:
            text += " (" + "; ".join(
                f"{key} {_show(key, old)} → {_show(key, new)}" for key, (old, new) in self.changes.items()
            ) + ")"
        if self.note:
            text += f"; {self.note}"
        return text


# -- run time ---------------------------------------------------------------------------


def queue_url(rq: RegisteredQueue, suffix: str | None = None) -> str:
    """The URL of ``rq`` (with ``suffix``): configured, looked up once, or created if allowed."""
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
    """The registered dead-letter queue of ``rq``, or None."""
    return registry.get(rq.dead_letter_queue) if rq.dead_letter_queue else None


def desired_attributes(rq: RegisteredQueue, suffix: str | None = None) -> dict[str, str]:
    """The attributes ``rq`` should have.

    With a dead-letter queue, its ARN goes into the RedrivePolicy, so the dead-letter
    queue (with the same suffix) must exist: it is looked up, or created first when
    allowed (``queue_url``).
    """
    dlq = dead_letter_queue(rq)
    arn = queue_arn(queue_url(dlq, suffix), dlq.full_name(suffix)) if dlq else None
    return rq.queue_attributes(arn)


def queue_arn(url: str, full_name: str) -> str:
    with wrap_errors("GetQueueAttributes", full_name):
        attrs = get_client().get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return attrs["Attributes"]["QueueArn"]


# -- deploy time ------------------------------------------------------------------------


def plan(queues: Iterable[RegisteredQueue]) -> list[tuple[RegisteredQueue, str | None]]:
    """``(queue, suffix)`` for each SQS queue of ``queues`` and of their dead-letter queues,
    each dead-letter queue before the queues that point at it (their RedrivePolicy needs
    its ARN), each SQS queue once."""
    order: list[tuple[RegisteredQueue, str | None]] = []
    done: set[str] = set()
    visiting: set[str] = set()

    def add(rq: RegisteredQueue) -> None:
        if rq.name in done or rq.name in visiting:  # a cycle of dead-letter queues stops here
            return
        visiting.add(rq.name)
        dlq = dead_letter_queue(rq)
        if dlq is not None:
            add(dlq)
        visiting.discard(rq.name)
        done.add(rq.name)
        order.extend((rq, suffix) for suffix in (None, *rq.suffixes))

    for rq in queues:
        add(rq)
    return order


def create_or_update(rq: RegisteredQueue, suffix: str | None = None) -> Provisioned:
    """Make the queue exist with its managed attributes, whatever ``SQS_CREATE_QUEUES`` says.

    Its dead-letter queue must exist already (``plan()`` puts it first); it is created
    here if it does not. Idempotent: a second call changes nothing and says "unchanged".
    """
    full = rq.full_name(suffix)
    dlq = dead_letter_queue(rq)
    arn = None
    if dlq is not None:
        dlq_full = dlq.full_name(suffix)
        found = _current(dlq_full)
        arn = found[1]["QueueArn"] if found else queue_arn(create_or_update(dlq, suffix).url, dlq_full)
    wanted = rq.queue_attributes(arn)
    found = _current(full)
    if found is None:
        created = queue_urls.create(full, wanted)
        configured = settings.SQS_QUEUE_URLS.get(full)
        note = ""
        if configured and configured != created:
            note = f"SQS_QUEUE_URLS lists {configured}, but SQS gave it {created}"
        return Provisioned(full, "created", created, note=note)
    url, current = found
    changes: dict[str, tuple[str | None, str]] = {}
    for key, value in wanted.items():
        # FifoQueue cannot change after creation (and follows from the name anyway).
        if key != "FifoQueue" and not _same(key, current.get(key), value):
            changes[key] = (current.get(key), value)
    if "RedrivePolicy" not in wanted and current.get("RedrivePolicy"):
        # The dead-letter queue is no longer declared: stop moving messages there.
        changes["RedrivePolicy"] = (current["RedrivePolicy"], "")
    if not changes:
        return Provisioned(full, "unchanged", url)
    with wrap_errors("SetQueueAttributes", full):
        get_client().set_queue_attributes(QueueUrl=url, Attributes={k: new for k, (_, new) in changes.items()})
    return Provisioned(full, "updated", url, changes)


def _current(full_name: str) -> tuple[str, dict[str, str]] | None:
    """(URL, all attributes) of a queue that exists, else None. A URL from
    SQS_QUEUE_URLS is checked too, so that the first deploy creates the queues listed there."""
    url = queue_urls.lookup(full_name)
    if url is None:
        return None
    try:
        return url, _attributes(url, full_name)
    except SQSRequestError as exc:
        if exc.code in NONEXISTENT_QUEUE_CODES:
            queue_urls.clear_cache()  # a URL cached before the queue was deleted
            return None
        raise


def _attributes(url: str, full_name: str, names: list[str] | None = None) -> dict[str, str]:
    with wrap_errors("GetQueueAttributes", full_name):
        response = get_client().get_queue_attributes(QueueUrl=url, AttributeNames=names or ["All"])
    return response.get("Attributes", {})


def _same(key: str, current: str | None, wanted: str) -> bool:
    if current is None:
        return False
    if key == "RedrivePolicy":
        return _policy(current) == _policy(wanted)
    return str(current).lower() == str(wanted).lower()


def _policy(text: str | None) -> tuple[str, int] | None:
    """(dead-letter ARN, maxReceiveCount) of a RedrivePolicy, None for none or garbage."""
    if not text:
        return None
    try:
        policy = json.loads(text)
        return str(policy["deadLetterTargetArn"]), int(policy["maxReceiveCount"])
    except (ValueError, KeyError, TypeError):
        return None


def _show(key: str, value: str | None) -> str:
    if key == "RedrivePolicy":
        policy = _policy(value)
        if policy is None:
            return "none"
        arn, count = policy
        return f"{arn.rpartition(':')[2]} after {count} receives"
    return "unset" if value is None else str(value)
