"""``Dispatcher``: the messages received and not yet started, and who may start next.

The poller adds what it received; handler threads take the next message to start:
the earliest of the highest-priority queue (``Source.rank``), skipping a FIFO message
whose group already has one in hand or an earlier one waiting (one at a time per
group, in order; different groups in parallel). ``--message-limit`` is counted here,
across threads and, through ``Counter``, across restarts of a supervised child.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable

from .sources import Held

#: Seconds added to a "visible again in S seconds": the request's travel, SQS's clock.
BACK_MARGIN = 0.25
#: A burst waits for what it left for later only when it is due within this many seconds:
#: a retry's backoff of minutes is left to the next run (a cron line, a CI job).
BACK_WAIT_CAP = 10.0


class Counter:
    """Messages handled. A ``multiprocessing`` shared value when a supervisor restarts
    children (so ``--message-limit`` counts across restarts), a plain int otherwise."""

    def __init__(self, shared=None):
        self._shared = shared
        self._value = 0
        self._lock = threading.Lock()

    @property
    def value(self) -> int:
        return self._shared.value if self._shared is not None else self._value

    def increment(self) -> None:
        with self._lock:
            if self._shared is not None:
                self._shared.value += 1
            else:
                self._value += 1


class Dispatcher:
    def __init__(self, *, threads: int, counter: Counter, message_limit: int | None):
        self.threads = threads
        self.counter = counter
        self.message_limit = message_limit
        self.cond = threading.Condition()
        self._waiting: list[Held] = []  # ordered by (rank, seq)
        self._in_hand: dict[int, Held] = {}
        self._started: dict[int, float] = {}  # id(held) → when its handler took it
        #: How long messages take to handle, lately (a moving average), None before the first.
        self.recent_duration: float | None = None
        #: When the last message this worker left in the queue for later (a RestartLater
        #: delay, a give-back) is visible again: a burst is not drained before.
        self.back_at = 0.0
        self._closed = False

    # -- the poller's side ------------------------------------------------------------
    def add(self, batch: Iterable[Held]) -> bool:
        """False once closed: the caller gives the batch back."""
        with self.cond:
            if self._closed:
                return False
            self._waiting.extend(batch)
            self._waiting.sort(key=lambda h: (h.source.rank, h.seq))
            self.cond.notify_all()
            return True

    def room(self, look_ahead: int) -> int:
        """How many more messages the worker may hold: free threads plus ``look_ahead``,
        minus those waiting; never more than the message limit leaves."""
        with self.cond:
            held = len(self._waiting) + len(self._in_hand)
            room = self.threads + look_ahead - held
            left = self._left()
            if left is not None:
                room = min(room, left - held)
            return max(0, room)

    def limit_left(self) -> int | None:
        with self.cond:
            return self._left()

    def _left(self) -> int | None:
        if self.message_limit is None:
            return None
        return self.message_limit - self.counter.value

    def wait_for_change(self, timeout: float) -> None:
        with self.cond:
            self.cond.wait(timeout)

    def poke(self) -> None:
        """Wake whoever waits for a change (a delete landed: a FIFO group may be free)."""
        with self.cond:
            self.cond.notify_all()

    def waiting_count(self) -> int:
        with self.cond:
            return len(self._waiting)

    def waiting_below(self, top) -> bool:
        """Are messages of queues ranked below ``top`` waiting to start?"""
        with self.cond:
            return any(h.source.rank > top.rank for h in self._waiting)

    def finishing_soon(self, exclude: set[int], within: float) -> bool:
        """Is another message (not one in ``exclude``) likely to be handled within
        ``within`` seconds? Yes while messages lately took less than that and one is in
        hand since less than that, or one is waiting to start."""
        with self.cond:
            if self.recent_duration is None or self.recent_duration >= within:
                return False
            if self._waiting:
                return True
            now = time.monotonic()
            return any(now - self._started.get(key, now) < within for key in self._in_hand if key not in exclude)

    def group_waiting(self, held: Held) -> bool:
        """Is a later message of ``held``'s FIFO group waiting in this worker?"""
        with self.cond:
            return any(h.source is held.source and h.group == held.group for h in self._waiting)

    def expect_back(self, seconds: float) -> None:
        """A message this worker left in the queue is visible again in ``seconds`` (from
        the answer to the request that said so; with a margin for SQS's own clock)."""
        if seconds > BACK_WAIT_CAP:
            return
        with self.cond:
            self.back_at = max(self.back_at, time.monotonic() + seconds + BACK_MARGIN)

    def held_count(self) -> int:
        with self.cond:
            return len(self._waiting) + len(self._in_hand)

    def in_hand(self) -> list[Held]:
        with self.cond:
            return list(self._in_hand.values())

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Start nothing more. Safe in a signal handler: no I/O, and the lock is reentrant."""
        with self.cond:
            self._closed = True
            self.cond.notify_all()

    def take_unstarted(self) -> list[Held]:
        """After ``close``: the messages that never started, to give back."""
        with self.cond:
            unstarted, self._waiting = self._waiting, []
            return unstarted

    def drop_group(self, held: Held) -> list[Held]:
        """After a FIFO message stayed in the queue: its group's later messages must not
        overtake it, so they leave the worker too (returned, to be given back)."""
        if held.group is None:
            return []
        with self.cond:
            later = [h for h in self._waiting if h.source is held.source and h.group == held.group]
            self._waiting = [h for h in self._waiting if h not in later]
            return later

    # -- the handler threads' side -----------------------------------------------------
    def take(self) -> Held | None:
        """The next message to start, waiting for one; None once closed (or at the limit)."""
        with self.cond:
            while True:
                if self._closed:
                    return None
                left = self._left()
                if left is not None and left - len(self._in_hand) <= 0:
                    if not self._in_hand:
                        return None
                else:
                    held = self._next()
                    if held is not None:
                        self._waiting.remove(held)
                        self._in_hand[id(held)] = held
                        self._started[id(held)] = time.monotonic()
                        return held
                # Every change that could let this thread go on notifies (add, done,
                # close): an idle thread sleeps until then, without waking to look.
                self.cond.wait()

    def _next(self) -> Held | None:
        busy = {(h.source, h.group) for h in self._in_hand.values() if h.group is not None}
        for held in self._waiting:
            key = (held.source, held.group)
            if held.group is None:
                return held
            if key not in busy:
                return held
            busy.add(key)  # a later message of this group waits behind this one
        return None

    def done(self, held: Held, counted: bool = True) -> None:
        with self.cond:
            self._in_hand.pop(id(held), None)
            started = self._started.pop(id(held), None)
            if started is not None and counted:
                took = time.monotonic() - started
                last = self.recent_duration
                self.recent_duration = took if last is None else 0.7 * last + 0.3 * took
            if counted:
                self.counter.increment()
            self.cond.notify_all()
