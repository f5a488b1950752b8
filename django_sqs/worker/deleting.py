"""``Deleter``: deletes handled messages in the background, ten a request.

A handled message's delete waits only while more handled messages are expected soon
(``expecting``: handlers busy with messages that usually take less than ``FLUSH_AFTER``,
or a backlog waiting for them), so that fast receivers still cost one DeleteMessageBatch
per ten messages. Otherwise it goes at once: a lone finish, a slow message, an idle
worker, or a FIFO message whose group has nothing more in this worker (``urgent``: SQS
holds the group's next message back until this delete lands). Never later than
``FLUSH_AFTER`` seconds, and at once when ten are waiting. So a worker killed shortly
after a slow message finished re-runs only the message in hand.

An entry SQS refuses, or a request that fails, is tried again with backoff (doubling
from ``RETRY_FIRST`` to ``RETRY_CAP``) until the message's visibility ran out (it is back
in the queue then, and will run again), or after ``ATTEMPTS`` tries for an error that
retrying will not mend. Messages stay in the heartbeat's care until their delete
succeeded or was given up.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable

from . import requests
from .heartbeat import Heartbeat
from .sources import Held

logger = logging.getLogger("django_sqs.worker")

#: Errors that retrying will not mend.
PERMANENT_CODES = {
    "AccessDenied", "AccessDeniedException", "InvalidClientTokenId", "UnrecognizedClientException",
    "NoCredentialsError", "InvalidParameterValue", "AWS.SimpleQueueService.NonExistentQueue",
    "QueueDoesNotExist", "InvalidAddress",
}
FLUSH_AFTER = 0.5
#: While deletes wait for company, how often the expectation is looked at again (it
#: changes without a new delete: a handler finished without one, or went idle).
RECHECK = 0.05
BATCH = 10
ATTEMPTS = 5
RETRY_FIRST = 0.5
RETRY_CAP = 8.0


@dataclasses.dataclass(eq=False)
class Pending:
    held: Held
    attempts: int = 0
    not_before: float = 0.0  # a retry waits out its backoff
    urgent: bool = False


class Deleter(threading.Thread):
    def __init__(
        self,
        heartbeat: Heartbeat,
        expecting: Callable[[set[int]], bool] | None = None,
        sent: Callable[[], None] | None = None,
    ):
        """``expecting(exclude)``: is another message (not one of the ids in ``exclude``,
        those already waiting for their delete) expected to be handled within
        ``FLUSH_AFTER``? Without it, every delete goes at once. ``sent()`` is called after
        each request (the poller may be waiting for a FIFO group to unblock)."""
        super().__init__(name="django-sqs-deleter", daemon=True)
        self.heartbeat = heartbeat
        self.expecting = expecting or (lambda exclude: False)
        self.sent = sent or (lambda: None)
        self._cond = threading.Condition()
        #: In the order they were handled.
        self._pending: list[Pending] = []
        self._oldest: float | None = None
        self._sending = 0  # taken from _pending, their request on its way
        self._stopping = False

    def add(self, held: Held, urgent: bool = False) -> None:
        """``urgent``: send without waiting for company (a FIFO group waits on it)."""
        with self._cond:
            self._pending.append(Pending(held, urgent=urgent))
            if self._oldest is None:
                self._oldest = time.monotonic()
            self._cond.notify()

    def pending(self) -> int:
        """Deletes not done yet: waiting, or on their way."""
        with self._cond:
            return len(self._pending) + self._sending

    def _ready(self, now: float) -> list[Pending]:
        return [p for p in self._pending if p.not_before <= now]

    def _flush_now(self, ready: list[Pending], now: float) -> bool:
        if len(ready) >= BATCH or any(p.urgent for p in ready):
            return True
        if now - (self._oldest or now) >= FLUSH_AFTER:
            return True
        return not self.expecting({id(p.held) for p in self._pending})

    def run(self) -> None:
        while True:
            with self._cond:
                while True:
                    now = time.monotonic()
                    ready = self._ready(now)
                    if self._stopping:
                        if not self._pending:
                            return
                        if ready:
                            break
                    elif ready and self._flush_now(ready, now):
                        break
                    self._cond.wait(self._wait_time(now, bool(ready)))
                taken = ready[:BATCH] if not self._stopping else ready
                self._pending = [p for p in self._pending if p not in taken]
                self._oldest = time.monotonic() if self._pending else None
                self._sending = len(taken)
            try:
                self._send(taken)
            finally:
                with self._cond:
                    self._sending = 0
                self.sent()

    def _wait_time(self, now: float, waiting_for_company: bool) -> float | None:
        """Until the next retry is due or the batch must go; None: until an add or a stop."""
        times = [p.not_before for p in self._pending if p.not_before > now]
        if waiting_for_company and self._oldest is not None:
            times.append(min(self._oldest + FLUSH_AFTER, now + RECHECK))
        return max(0.005, min(times) - now) if times else None

    def _send(self, taken: list[Pending]) -> None:
        ok, failed = requests.delete([p.held for p in taken])
        self.heartbeat.untrack(ok)
        now = time.monotonic()
        by_held = {id(p.held): p for p in taken}
        retry = []
        for held, code in failed:
            entry = by_held[id(held)]
            tries = entry.attempts + 1
            gone = code == "ReceiptHandleIsInvalid" or held.remaining(now) <= 0
            # An outage is waited out while the heartbeat keeps the message hidden; an
            # error that will not go away (access denied) is given up after a few tries.
            hopeless = tries >= ATTEMPTS and code in PERMANENT_CODES
            if gone or hopeless or (self._stopping and tries >= 2):
                logger.error(
                    "delete failed, the message will come back and run again queue=%s id=%s code=%s attempts=%d",
                    held.source.full_name, held.id, code, tries,
                )
                self.heartbeat.untrack([held])
            else:
                delay = min(RETRY_CAP, RETRY_FIRST * 2 ** (tries - 1))
                logger.warning(
                    "delete failed, will retry queue=%s id=%s code=%s in=%.1fs",
                    held.source.full_name, held.id, code, delay,
                )
                retry.append(Pending(held, tries, now + delay, entry.urgent))
        if retry:
            with self._cond:
                self._pending[:0] = retry
                if self._oldest is None:
                    self._oldest = now

    def stop(self) -> None:
        """Flush what is pending (retrying briefly), then end."""
        with self._cond:
            self._stopping = True
            self._cond.notify()
