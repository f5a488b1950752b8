"""What a worker serves and what it holds: a ``Source`` (one SQS queue) and ``Held``
(one received message, with the moment its visibility runs out)."""

from __future__ import annotations

import dataclasses
import itertools
import time

from .. import provisioning
from ..registered_queue import RegisteredQueue

_sequence = itertools.count()


class Source:
    """One SQS queue a worker receives from: a registered queue with an optional suffix.

    ``rank`` is its place in priority order (0 = highest); a worker without ``--priority``
    has a single source of rank 0.
    """

    def __init__(self, rq: RegisteredQueue, suffix: str | None = None, rank: int = 0):
        if rq.receiver is None:
            raise ValueError(f"Queue {rq.name!r} has no receiver to run.")
        self.rq = rq
        self.suffix = suffix
        self.rank = rank
        self.full_name = rq.full_name(suffix)
        self.visibility_timeout = rq.get_visibility_timeout()
        self.fifo = rq.fifo
        self._url: str | None = None

    @property
    def url(self) -> str:
        """Looked up once (GetQueueUrl, or SQS_QUEUE_URLS); may raise ``SQSError``."""
        if self._url is None:
            self._url = provisioning.queue_url(self.rq, self.suffix)
        return self._url

    def forget_url(self) -> None:
        """After NonExistentQueue: the queue may have been re-created under a new URL."""
        self._url = None

    def __repr__(self) -> str:
        return f"<Source {self.full_name} rank={self.rank}>"


@dataclasses.dataclass(eq=False)
class Held:
    """A received message this worker holds.

    ``deadline`` is the ``time.monotonic()`` at which SQS would hand it out again,
    counted from when SQS handed it out (not from when the long poll began);
    ``visibility`` is the length of the current hiding, which the heartbeat renews
    when half of it is left.
    """

    source: Source
    record: dict
    received_at: float
    deadline: float
    visibility: int
    seq: int = dataclasses.field(default_factory=lambda: next(_sequence))
    #: Set once the heartbeat stopped renewing it at SQS's 12-hour cap.
    capped: bool = False

    @property
    def receipt_handle(self) -> str:
        return self.record["ReceiptHandle"]

    @property
    def id(self) -> str:
        return self.record.get("MessageId", "?")

    @property
    def group(self) -> str | None:
        return (self.record.get("Attributes") or {}).get("MessageGroupId")

    @property
    def receive_count(self) -> int:
        try:
            return int((self.record.get("Attributes") or {}).get("ApproximateReceiveCount", 0))
        except ValueError:
            return 0

    def remaining(self, now: float | None = None) -> float:
        return self.deadline - (time.monotonic() if now is None else now)


def ids(held: list[Held]) -> str:
    """The message ids for a log line: ``a,b,c``."""
    return ",".join(h.id for h in held)
