"""``Heartbeat``: keeps the messages a worker holds hidden while it holds them.

A message is renewed when less than half of its current hiding is left, to the
receiver's full visibility timeout, so a fast worker never makes an extra request and
a slow receiver (or a message waiting for a free thread) is never handed out twice.

Decisions win over renewals: a ``RestartLater(delay=S)`` or a release changes the
visibility under ``decisions`` (the lock the heartbeat holds while its own request is on
its way), after the message left the heartbeat's care. So a renewal is never sent after
a decision, and never undoes one.

SQS refuses to keep a message hidden for more than 12 hours after it was received: at
that cap the heartbeat stops renewing it and says so once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable

from ..conf import MAX_VISIBILITY_TIMEOUT
from . import requests
from .sources import Held, ids

logger = logging.getLogger("django_sqs.worker")

#: Seconds kept in hand below SQS's 12-hour cap, for the request's own travel.
CAP_MARGIN = 10
TICK_MIN, TICK_MAX = 0.05, 5.0


class Heartbeat(threading.Thread):
    def __init__(self, shortest_visibility: int):
        super().__init__(name="django-sqs-heartbeat", daemon=True)
        # Often enough that a 1-second hiding is renewed with half of it left.
        self.tick = min(TICK_MAX, max(TICK_MIN, shortest_visibility / 8))
        self.decisions = threading.Lock()
        self._lock = threading.Lock()
        self._held: dict[str, Held] = {}
        self._stopped = threading.Event()

    def track(self, items: Iterable[Held]) -> None:
        with self._lock:
            for held in items:
                self._held[held.receipt_handle] = held

    def untrack(self, items: Iterable[Held]) -> None:
        with self._lock:
            for held in items:
                self._held.pop(held.receipt_handle, None)

    def run(self) -> None:
        while not self._stopped.wait(self.tick):
            try:
                self.beat()
            except Exception:  # never let the heartbeat die; the next tick tries again
                logger.exception("heartbeat failed")

    def beat(self) -> None:
        with self.decisions:
            now = time.monotonic()
            with self._lock:
                due = [h for h in self._held.values() if not h.capped and h.remaining(now) < h.visibility / 2]
            due = [h for h in due if not self._at_cap(h, now)]
            if not due:
                return
            by_vt: dict[int, list[Held]] = {}
            for held in due:
                by_vt.setdefault(held.source.visibility_timeout, []).append(held)
            for vt, items in by_vt.items():
                sent = time.monotonic()
                for held in requests.change_visibility(items, vt, "heartbeat"):
                    held.deadline, held.visibility = sent + vt, vt
                logger.debug("extended visibility queue=%s ids=%s by=%ss", items[0].source.full_name, ids(items), vt)

    def _at_cap(self, held: Held, now: float) -> bool:
        if now - held.received_at + held.source.visibility_timeout <= MAX_VISIBILITY_TIMEOUT - CAP_MARGIN:
            return False
        held.capped = True
        logger.warning(
            "not extending visibility: SQS's 12-hour cap reached queue=%s id=%s; the message "
            "becomes visible again when its current visibility runs out",
            held.source.full_name, held.id,
        )
        return True

    def stop(self) -> None:
        self._stopped.set()
