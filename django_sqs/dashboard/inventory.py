"""The queue list: every registered queue with its SQS attributes, read a few seconds at a time.

One GetQueueAttributes (all attributes) per SQS queue, the first alone (an unreachable
SQS or a denied permission fails the page at once, not fifty times) and the rest eight at
a time on the process's one client; with ``SQS_ADMIN_OLDEST_MESSAGE_AGE``, one CloudWatch
GetMetricData for all of them. The answers are kept in Django's cache for
``CACHE_SECONDS``, so reloading the page, or many staff doing so, cannot hammer SQS.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import logging
from concurrent.futures import ThreadPoolExecutor

from django.core.cache import cache

from .. import queue_urls, status, worker_groups
from ..client import NONEXISTENT_QUEUE_CODES, get_client, make_session, wrap_errors
from ..conf import settings
from ..exceptions import SQSRequestError
from ..registered_queue import RegisteredQueue
from ..registry import label, registry
from ..tasks.envelope import TaskMessage

logger = logging.getLogger("django_sqs")

#: Seconds the SQS answers behind the queue list are reused.
CACHE_SECONDS = 5
#: GetQueueAttributes in flight at once.
PARALLEL_REQUESTS = 8
#: The CloudWatch window searched for the latest oldest-message age (SQS publishes every minute).
AGE_WINDOW = dt.timedelta(minutes=15)


@dataclasses.dataclass
class QueueRow:
    """One SQS queue of the list: its declaration (``entry``) and what SQS said of it."""

    entry: status.Entry
    #: SQS's attributes; None when the queue does not exist.
    attributes: dict[str, str] | None
    #: Seconds, from CloudWatch's ApproximateAgeOfOldestMessage; None when unknown or off.
    oldest_age: int | None = None

    @property
    def queue(self) -> RegisteredQueue:
        return self.entry.queue

    @property
    def full_name(self) -> str:
        return self.entry.full_name

    @property
    def exists(self) -> bool:
        return self.attributes is not None

    def _count(self, key: str) -> int | None:
        return None if self.attributes is None else int(self.attributes.get(status.COUNT_ATTRIBUTES[key], 0))

    @property
    def visible(self) -> int | None:
        return self._count("visible")

    @property
    def in_flight(self) -> int | None:
        return self._count("in_flight")

    @property
    def delayed(self) -> int | None:
        return self._count("delayed")

    @property
    def total(self) -> int:
        return (self.visible or 0) + (self.in_flight or 0) + (self.delayed or 0)

    @property
    def redrive_policy(self) -> dict:
        try:
            policy = json.loads((self.attributes or {}).get("RedrivePolicy") or "{}")
        except ValueError:
            return {}
        return policy if isinstance(policy, dict) else {}

    @property
    def redrive_target(self) -> str | None:
        """The dead-letter queue SQS moves this queue's messages to (its name, from the ARN)."""
        arn = self.redrive_policy.get("deadLetterTargetArn")
        return str(arn).rpartition(":")[2] if arn else None

    @property
    def max_receive_count(self) -> int | None:
        count = self.redrive_policy.get("maxReceiveCount")
        return int(count) if count is not None else None

    @property
    def fifo(self) -> bool:
        return self.queue.fifo

    @property
    def is_dead_letter_queue(self) -> bool:
        """Declared as some queue's dead-letter queue: what may be peeked at by default."""
        return self.queue.dead_letter_queue_of is not None

    @property
    def reader(self) -> str:
        """What reads the queue: a receiver's dotted path, a task queue, or nobody."""
        return reader_of(self.queue)

    @property
    def created(self) -> dt.datetime | None:
        ts = (self.attributes or {}).get("CreatedTimestamp")
        return dt.datetime.fromtimestamp(int(ts), tz=dt.timezone.utc) if ts else None


def reader_of(rq: RegisteredQueue) -> str:
    if issubclass(rq.message_class, TaskMessage) and rq.receiver is not None:
        return f"task queue {rq.receiver.task_queue!r} of backend {rq.receiver.alias!r}" + _served_by(rq)
    if rq.receiver is None:
        return "dead-letter queue (no receiver)" if rq.dead_letter_queue_of else "no receiver (send only)"
    return f"receiver {label(rq.receiver)}" + _served_by(rq)


def _served_by(rq: RegisteredQueue) -> str:
    """Which worker group of ``SQS_WORKERS`` serves the queue, where one does."""
    group = worker_groups.serving().get(rq.name)
    return f", worker group {group} (SQS_WORKERS)" if group else ""


def attributes(full_name: str) -> dict[str, str] | None:
    """All SQS attributes of an existing queue, else None. Raises ``SQSRequestError``."""
    url = queue_urls.lookup(full_name)
    if url is None:
        return None
    try:
        with wrap_errors("GetQueueAttributes", full_name):
            return get_client().get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    except SQSRequestError as exc:
        if exc.code in NONEXISTENT_QUEUE_CODES:
            queue_urls.clear_cache()  # deleted since its URL was looked up
            return None
        raise


def rows(queues=None) -> list[QueueRow]:
    """The queue list (default: every registered queue), DLQs nested; raises ``SQSRequestError``."""
    entries = status.layout(registry if queues is None else queues)
    answers = _cached_answers([e.full_name for e in entries])
    return [QueueRow(e, answers["attributes"].get(e.full_name), answers["ages"].get(e.full_name)) for e in entries]


def row(full_name: str) -> QueueRow | None:
    """The row of one registered SQS queue (fresh from SQS), or None if no registration has it."""
    for entry in status.layout(registry):
        if entry.full_name == full_name:
            return QueueRow(entry, attributes(full_name), _ages([full_name]).get(full_name))
    return None


def unregistered() -> list[str]:
    """Queues under the prefix no registration declares (ListQueues, cached like the rest)."""
    key = _key("unregistered")
    found = cache.get(key)
    if found is None:
        found = status.unregistered_queues()
        cache.set(key, found, CACHE_SECONDS)
    return found


def forget() -> None:
    """Drop the cached answers: after an action, the next page shows what SQS says now."""
    cache.delete_many([_key("answers"), _key("unregistered")])


def _cached_answers(names: list[str]) -> dict:
    key = _key("answers")
    found = cache.get(key)
    if found is None or set(found["attributes"]) != set(names):
        found = {"attributes": _fetch(names), "ages": {}}
        found["ages"] = _ages([n for n in names if found["attributes"].get(n) is not None])
        cache.set(key, found, CACHE_SECONDS)
    return found


def _fetch(names: list[str]) -> dict[str, dict | None]:
    if not names:
        return {}
    # The first alone: when SQS is unreachable or denies us, fail once, not once per queue.
    answers = {names[0]: attributes(names[0])}
    with ThreadPoolExecutor(max_workers=PARALLEL_REQUESTS) as pool:
        answers.update(zip(names[1:], pool.map(attributes, names[1:]), strict=True))
    return answers


def _ages(names: list[str]) -> dict[str, int]:
    """Seconds of the oldest message per queue, from CloudWatch (one GetMetricData per 500)."""
    if not (settings.SQS_ADMIN_OLDEST_MESSAGE_AGE and names):
        return {}
    session = make_session()
    cloudwatch = session.client(
        "cloudwatch",
        region_name=settings.SQS_REGION or session.region_name or "us-east-1",
        # A local SQS server (moto) serves CloudWatch at the same address.
        endpoint_url=settings.SQS_ENDPOINT_URL or None,
    )
    # A minute past now: the current, still-filling period is included (nothing lies beyond).
    end = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=1)
    ages: dict[str, int] = {}
    for start in range(0, len(names), 500):
        chunk = names[start:start + 500]
        queries = [
            {
                "Id": f"q{i}",
                "MetricStat": {
                    "Metric": {
                        "Namespace": "AWS/SQS",
                        "MetricName": "ApproximateAgeOfOldestMessage",
                        "Dimensions": [{"Name": "QueueName", "Value": name}],
                    },
                    "Period": 60,
                    "Stat": "Maximum",
                },
            }
            for i, name in enumerate(chunk)
        ]
        try:
            with wrap_errors("GetMetricData", chunk[0]):
                answer = cloudwatch.get_metric_data(
                    MetricDataQueries=queries, StartTime=end - AGE_WINDOW, EndTime=end, ScanBy="TimestampDescending"
                )
        except SQSRequestError as exc:
            # The column is optional: without cloudwatch:GetMetricData it stays empty, the list is shown.
            logger.warning("dashboard: oldest-message ages not read from CloudWatch: %s", exc)
            return ages
        for result in answer.get("MetricDataResults", []):
            if result.get("Values"):
                ages[chunk[int(result["Id"][1:])]] = int(result["Values"][0])
    return ages


def _key(kind: str) -> str:
    queues = ",".join(f"{rq.name}:{'/'.join(rq.suffixes)}:{rq.dead_letter_queue or ''}" for rq in registry)
    facts = (f"{kind}|{settings.SQS_QUEUE_PREFIX}|{settings.SQS_ENDPOINT_URL}|{settings.SQS_REGION}|"
             f"{settings.SQS_ADMIN_OLDEST_MESSAGE_AGE}|{queues}")
    return "django_sqs.dashboard." + hashlib.sha256(facts.encode()).hexdigest()
