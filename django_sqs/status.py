"""The status report behind ``sqs_status``, ``sqs_wait`` and ``django_sqs.views.status``.

For each registered queue: its full SQS name and that of each declared suffix, with its
dead-letter queue shown under it, and the approximate counts of visible, in-flight and
delayed messages from one GetQueueAttributes per queue. A queue that does not exist is
reported as not created yet; it is never created here. ListQueues is used by
``unregistered_queues`` only, which ``sqs_status`` calls once (workers and senders never do).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable

from . import naming, queue_urls
from .client import NONEXISTENT_QUEUE_CODES, get_client, wrap_errors
from .conf import settings
from .exceptions import SQSRequestError
from .registered_queue import RegisteredQueue
from .registry import registry

#: The counts reported, by the name of their SQS attribute.
COUNT_ATTRIBUTES = {
    "visible": "ApproximateNumberOfMessages",
    "in_flight": "ApproximateNumberOfMessagesNotVisible",
    "delayed": "ApproximateNumberOfMessagesDelayed",
}
NOT_CREATED = "not created yet"


@dataclasses.dataclass(frozen=True)
class Entry:
    """One SQS queue of the report, before anything is asked of SQS."""

    queue: RegisteredQueue
    suffix: str | None
    full_name: str
    #: 0 for a queue, 1 for its dead-letter queue (2 for that one's, and so on).
    level: int = 0
    #: The registered name of the queue this one is the dead-letter queue of, when shown under it.
    dead_letter_queue_of: str | None = None


@dataclasses.dataclass(frozen=True)
class QueueStatus:
    """One line of the report. Counts are None when the queue does not exist."""

    name: str
    suffix: str | None
    full_name: str
    exists: bool
    visible: int | None = None
    in_flight: int | None = None
    delayed: int | None = None
    level: int = 0
    dead_letter_queue_of: str | None = None

    @property
    def total(self) -> int:
        """Visible, in-flight and delayed together (0 for a queue that does not exist)."""
        return (self.visible or 0) + (self.in_flight or 0) + (self.delayed or 0)

    def as_dict(self) -> dict:
        """The JSON form: ``queue`` is the registered name; counts are null when not created."""
        return {
            "queue": self.name,
            "suffix": self.suffix,
            "full_name": self.full_name,
            "exists": self.exists,
            "visible": self.visible,
            "in_flight": self.in_flight,
            "delayed": self.delayed,
            "dead_letter_queue_of": self.dead_letter_queue_of,
        }


def layout(queues: Iterable[RegisteredQueue]) -> list[Entry]:
    """The queues to report, in order: each queue with its suffixes, then its dead-letter
    queue (with its suffixes) one level under it. A dead-letter queue that was selected
    too is shown only there, not again at the top."""
    queues = list(queues)
    declared = {rq.dead_letter_queue for rq in queues if rq.dead_letter_queue}
    entries: list[Entry] = []
    shown: set[str] = set()

    def add(rq: RegisteredQueue, level: int, parent: str | None) -> None:
        if rq.name in shown:
            return
        shown.add(rq.name)
        entries.extend(Entry(rq, suffix, full, level, parent) for suffix, full in rq.full_names())
        if rq.dead_letter_queue and rq.dead_letter_queue in registry:
            add(registry.get(rq.dead_letter_queue), level + 1, rq.name)

    for rq in queues:
        if rq.name not in declared:
            add(rq, 0, None)
    for rq in queues:  # what is left: dead-letter queues of each other (a cycle)
        add(rq, 0, None)
    return entries


def queue_counts(full_name: str) -> dict[str, int] | None:
    """``{"visible": …, "in_flight": …, "delayed": …}`` of an existing queue, else None.

    At most one GetQueueUrl (cached per process) and one GetQueueAttributes.
    """
    url = queue_urls.lookup(full_name)
    if url is None:
        return None
    try:
        with wrap_errors("GetQueueAttributes", full_name):
            attrs = get_client().get_queue_attributes(
                QueueUrl=url, AttributeNames=list(COUNT_ATTRIBUTES.values())
            )["Attributes"]
    except SQSRequestError as exc:
        if exc.code in NONEXISTENT_QUEUE_CODES:
            queue_urls.clear_cache()  # deleted since its URL was looked up
            return None
        raise
    return {key: int(attrs.get(attribute, 0)) for key, attribute in COUNT_ATTRIBUTES.items()}


def gather(queues: Iterable[RegisteredQueue] | None = None) -> list[QueueStatus]:
    """The report for ``queues`` (default: every registered queue).

    Raises ``SQSRequestError`` when SQS cannot be asked (network, permissions).
    """
    return [status_of(entry) for entry in layout(registry if queues is None else queues)]


def status_of(entry: Entry) -> QueueStatus:
    counts = queue_counts(entry.full_name)
    return QueueStatus(
        name=entry.queue.name,
        suffix=entry.suffix,
        full_name=entry.full_name,
        exists=counts is not None,
        level=entry.level,
        dead_letter_queue_of=entry.dead_letter_queue_of,
        **(counts or {}),
    )


def unregistered_queues() -> list[str]:
    """Full names of the queues under ``SQS_QUEUE_PREFIX`` that no registration declares
    (a queue renamed or removed from the code, one created by hand), in name order.

    ListQueues with the prefix (one request per 1000 queues). Nothing with an empty prefix:
    that would be every queue of the account.
    """
    prefix = settings.SQS_QUEUE_PREFIX
    if not prefix:
        return []
    declared = {full for rq in registry for _, full in rq.full_names()}
    under = prefix + naming.SEPARATOR
    names = []
    with wrap_errors("ListQueues", under + "*"):
        for page in get_client().get_paginator("list_queues").paginate(QueueNamePrefix=under):
            names += [url.rstrip("/").rpartition("/")[2] for url in page.get("QueueUrls", [])]
    return sorted(name for name in set(names) if name.startswith(under) and name not in declared)


def format_table(rows: list[QueueStatus]) -> list[str]:
    """Aligned lines: a header, then one line per queue (dead-letter queues indented)."""
    table = [("QUEUE", "VISIBLE", "IN FLIGHT", "DELAYED")]
    table += [
        ("  " * row.level + row.full_name, *("-" if n is None else str(n) for n in (row.visible, row.in_flight, row.delayed)))
        for row in rows
    ]
    widths = [max(len(line[i]) for line in table) for i in range(4)]

    def join(cells: tuple[str, ...]) -> str:
        name, *counts = cells
        return "  ".join([name.ljust(widths[0]), *(c.rjust(w) for c, w in zip(counts, widths[1:], strict=True))])

    lines = [join(table[0])]
    for row, cells in zip(rows, table[1:], strict=True):
        notes = (["dead-letter queue"] if row.dead_letter_queue_of else []) + ([] if row.exists else [NOT_CREATED])
        lines.append(f"{join(cells)}  ({', '.join(notes)})" if notes else join(cells))
    return lines


def wait_until_empty(
    queues: Iterable[RegisteredQueue],
    *,
    timeout: float | None = None,
    interval: float = 1.0,
    progress: Callable[[list[QueueStatus], float], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[bool, list[QueueStatus]]:
    """Check the queues every ``interval`` seconds until visible, in-flight and delayed are
    all zero everywhere, or ``timeout`` seconds have passed.

    Dead-letter queues shown under a queue are not waited for (their messages stay until
    someone acts on them); name one to wait for it. A queue that does not exist counts as
    empty. ``progress(rows, elapsed)`` is called after every check. Returns ``(empty, rows)``.
    """
    entries = [entry for entry in layout(queues) if entry.level == 0]
    started = clock()
    deadline = None if timeout is None else started + timeout
    while True:
        rows = [status_of(entry) for entry in entries]
        now = clock()
        if progress:
            progress(rows, now - started)
        if not any(row.total for row in rows):
            return True, rows
        if deadline is not None and now >= deadline:
            return False, rows
        sleep(interval if deadline is None else max(0.0, min(interval, deadline - now)))
