"""``Deleter``: deletes handled messages in the background, ten a request.

A handled message's delete goes out within ``FLUSH_AFTER`` seconds, or as soon as ten
are waiting: fast receivers still cost one DeleteMessageBatch per ten messages, and a
worker killed in the middle of a batch of slow messages re-runs only the message in
hand. An entry SQS refuses, or a request that fails, is tried again with backoff
(doubling from ``RETRY_FIRST`` to ``RETRY_CAP``) until the message's visibility ran out
(it is back in the queue then, and will run again), or after ``ATTEMPTS`` tries for an
error that retrying will not mend. Messages stay
in the heartbeat's care until their delete succeeded or was given up.
"""

from __future__ import annotations

import logging
import threading
import time

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
BATCH = 10
ATTEMPTS = 5
RETRY_FIRST = 0.5
RETRY_CAP = 8.0


class Deleter(threading.Thread):
    def __init__(self, heartbeat: Heartbeat):
        super().__init__(name="django-sqs-deleter", daemon=True)
        self.heartbeat = heartbeat
        self._cond = threading.Condition()
        #: (held, attempts so far, not before) in the order they were handled.
        self._pending: list[tuple[Held, int, float]] = []
        self._oldest: float | None = None
        self._stopping = False

    def add(self, held: Held) -> None:
        with self._cond:
            self._pending.append((held, 0, 0.0))
            if self._oldest is None:
                self._oldest = time.monotonic()
            if len(self._ready(time.monotonic())) >= BATCH:
                self._cond.notify()

    def pending(self) -> int:
        with self._cond:
            return len(self._pending)

    def _ready(self, now: float) -> list[tuple[Held, int, float]]:
        return [p for p in self._pending if p[2] <= now]

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
                    elif len(ready) >= BATCH or (ready and now - (self._oldest or now) >= FLUSH_AFTER):
                        break
                    self._cond.wait(self._wait_time(now))
                taken = ready[:BATCH] if not self._stopping else ready
                self._pending = [p for p in self._pending if p not in taken]
                self._oldest = time.monotonic() if self._pending else None
            self._send(taken)

    def _wait_time(self, now: float) -> float:
        times = [p[2] for p in self._pending if p[2] > now]
        if self._oldest is not None:
            times.append(self._oldest + FLUSH_AFTER)
        return max(0.01, min(times) - now) if times else 1.0

    def _send(self, taken: list[tuple[Held, int, float]]) -> None:
        attempts = {id(h): n for h, n, _ in taken}
        ok, failed = requests.delete([h for h, _, _ in taken])
        self.heartbeat.untrack(ok)
        now = time.monotonic()
        retry = []
        for held, code in failed:
            tries = attempts[id(held)] + 1
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
                retry.append((held, tries, now + delay))
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
