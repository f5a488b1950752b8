"""``Poller``: receives from the worker's queues when there is room, and keeps a long poll
open on each queue that has nothing to give.

One poller per worker process, whatever ``--threads`` is. Which queue to ask next is its
strategy's call (``strategy``: ``Strict`` for ``--priority`` and single queues,
``Weighted`` for weighted groups). A *round* asks the strategy's active queues with short
receives and stops at the first that returns messages, so in strict order a lower queue is
not even asked while a higher one has a backlog.

A queue whose receive came back empty is *parked*: it gets a long poll of
``SQS_POLL_PERIOD`` in a thread of its own (one per parked queue, while the strategy allows
it), which hands what it brings to the poller as soon as it arrives. So an idle worker has
one long poll open on every queue it serves (one request per queue and poll period), and a
message sent to any of them, at any priority level, is picked up in milliseconds.

A stop never waits for a long poll: the worker exits and abandons them. SQS may still hand
messages to an abandoned request, so a long poll hides what it receives for
``LONG_POLL_VISIBILITY`` seconds only (the heartbeat renews messages that are still held,
and a long poll that answers after the stop gives its messages back): they come back within
seconds instead of a whole visibility timeout. Short receives use the full timeout.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable

from .. import queue_urls, signals
from ..client import NONEXISTENT_QUEUE_CODES, get_client, wrap_errors
from ..exceptions import SQSError, SQSRequestError
from .sources import Held, Source
from .strategy import Strategy, Strict

logger = logging.getLogger("django_sqs.worker")

MAX_MESSAGES_PER_RECEIVE = 10
LONG_POLL_VISIBILITY = 2
#: The longest a response can take to come back after SQS handed the messages out: the
#: visibility deadline is counted from the response minus this (a long poll may have
#: waited 20 s before the message arrived; counting from its start would be wrong).
HANDOUT_ALLOWANCE = 0.25
#: A long poll that failed is not opened again on that queue before this (doubled per
#: failure up to the cap), so an unreachable queue does not spin beside busy ones.
RETRY_FIRST = 0.5
RETRY_CAP = 20.0
#: How often an idle poller looks at the stop flag while its long polls are out.
STOP_CHECK = 0.1


class Poller:
    def __init__(
        self,
        sources: list[Source],
        *,
        poll_period: int,
        sender: type,
        strategy: Strategy | None = None,
        track: Callable[[list[Held]], None] | None = None,
        release: Callable[[list[Held], str], None] | None = None,
        stop: threading.Event | None = None,
        deliver: Callable[[list[Held]], bool] | None = None,
        handoff: Callable[[], None] | None = None,
    ):
        self.sources = sources
        self.poll_period = poll_period
        self.sender = sender
        self.strategy = strategy or Strict(sources)
        #: Called by a long poll's thread on what it brought (the heartbeat's ``track``):
        #: it is hidden for seconds only until the worker takes it.
        self.track = track or (lambda batch: None)
        self.release = release
        self.stop = stop or threading.Event()
        #: When given: a long poll's thread hands what it brought to the worker itself (the
        #: handlers start it at once), and the poller, woken, calls ``handoff`` (lets a
        #: handler take it) before its next request.
        self.deliver = deliver
        self.handoff = handoff or (lambda: None)
        self.idle = False  # the previous round found nothing anywhere
        self.failed: SQSError | None = None  # why the last round could not reach SQS
        self._attempt_ids: dict[Source, str] = {}
        #: True while the poller waits on its long polls: a stopping worker may abandon it
        #: (what they get is hidden for LONG_POLL_VISIBILITY only); a short receive it waits for.
        self.long_polling = False
        self.last_wait = 0
        self._cond = threading.Condition()
        self._open: set[Source] = set()  # queues with a long poll out
        self._delivered: list[Held] = []  # brought by long polls, not yet taken
        self._handed: list[tuple[Source, int]] = []  # delivered by long polls, not yet told to the strategy
        self.handed = False  # the last look found messages a long poll handed to the worker
        self._empty: set[Source] = set()  # long polls that came back empty, since the wait began
        self._failures: dict[Source, int] = {}
        self._retry_at: dict[Source, float] = {}
        self._failure: SQSError | None = None
        self._closed = False

    # -- the worker's side -----------------------------------------------------------
    def round(self, room: int) -> list[Held] | None:
        """Up to ``room`` messages: what a long poll brought, else a short receive from the
        strategy's queues in turn; when none has any, wait on the long polls for up to a
        poll period. [] when all stayed empty, None when SQS could not be reached."""
        wanted = max(1, min(room, MAX_MESSAGES_PER_RECEIVE))
        batch = self._take()
        if batch:
            return batch
        self._arm(wanted)
        asked = set()
        for source in self.strategy.candidates():
            batch = self.receive(source, wanted, 0)
            if batch is None:
                return None
            self.strategy.found(source, len(batch))  # parked when empty: a long poll watches it
            if batch:
                self.idle = False
                self.last_wait = 0
                return batch
            asked.add(source)
        if self.poll_period == 0 and asked == set(self.sources):
            return self._stay_idle()  # no long polling: that look at every queue was the poll
        return self._wait(wanted)

    def watch(self, source: Source, wanted: int) -> list[Held] | None:
        """A look at ``source`` alone (the top queue, while lower ones' messages wait): what a
        long poll brought, else a short receive unless a long poll already watches it."""
        batch = self._take()
        if batch:
            return batch
        self._arm(max(1, wanted))
        with self._cond:
            if source in self._open:
                return []
        batch = self.receive(source, wanted, 0)
        if batch:
            self.strategy.found(source, len(batch))
            self.idle = False
        return batch

    def close(self) -> None:
        """The worker stopped: what the long polls brought (now or later) goes back."""
        with self._cond:
            self._closed = True
            late, self._delivered = self._delivered, []
        if late and self.release is not None:
            self.release(late, "stopping")

    # -- long polls ----------------------------------------------------------------------
    def _take(self) -> list[Held]:
        with self._cond:
            batch, self._delivered = self._delivered, []
            handed, self._handed = self._handed, []
        for source in dict.fromkeys(h.source for h in batch):
            self.strategy.found(source, sum(1 for h in batch if h.source is source))
        for source, count in handed:
            self.strategy.found(source, count)  # active again: short receives follow up
        self.handed = bool(handed)
        if batch or handed:
            self.idle = False
            self.last_wait = 0
        return batch

    def _arm(self, wanted: int) -> None:
        """Open a long poll on each parked queue the strategy allows that has none."""
        if len(self.sources) == 1:
            return  # one queue: the poller long-polls it itself (``_wait_here``)
        now = time.monotonic()
        with self._cond:
            if self._closed:
                return
            for source in self.sources:
                if (
                    source in self.strategy.parked
                    and source not in self._open
                    and self._retry_at.get(source, 0) <= now
                    and self.strategy.may_long_poll(source)
                ):
                    self._open.add(source)
                    threading.Thread(
                        target=self._long_poll, args=(source, wanted), daemon=True,
                        name=f"django-sqs-poll-{source.full_name}",
                    ).start()

    def _long_poll(self, source: Source, wanted: int) -> None:
        batch = self.receive(source, wanted, self.poll_period)
        late = []
        handed = False
        if batch and self.deliver is not None and not self._closed and not self.stop.is_set():
            self.deliver(batch)  # started at once (or given back by a worker that just stopped)
            handed = True
        with self._cond:
            self._open.discard(source)
            if batch is None:
                tries = self._failures[source] = self._failures.get(source, 0) + 1
                self._retry_at[source] = time.monotonic() + min(RETRY_CAP, RETRY_FIRST * 2 ** (tries - 1))
                self._failure = self.failed
            else:
                self._failures.pop(source, None)
                self._retry_at.pop(source, None)
                if not batch:
                    self._empty.add(source)
                elif handed:
                    self._handed.append((source, len(batch)))
                elif self._closed or self.stop.is_set():
                    late = batch
                else:
                    self.track(batch)
                    self._delivered += batch
            self._cond.notify_all()
        if late and self.release is not None:
            self.release(late, "stopping")

    def _wait(self, wanted: int) -> list[Held] | None:
        """Every queue is parked: wait until a long poll brings messages, every queue's long
        poll came back empty (idle; burst mode ends there), a long poll failed, or a stop."""
        self.long_polling = True
        try:
            if len(self.sources) == 1:
                return self._wait_here(wanted)
            with self._cond:
                self._empty.clear()
                self._failure = None
            while True:
                self._arm(wanted)  # again on each queue whose long poll came back empty
                with self._cond:
                    if not self._delivered and not self._handed and self._failure is None and not self.stop.is_set():
                        if not self._open and not self.strategy.active() and self._waiting_on_nothing():
                            return self._stay_idle()
                        if set(self.sources) <= self._empty:
                            return self._stay_idle()
                        self._cond.wait(STOP_CHECK)
                        continue
                    failure, self._failure = self._failure, None
                if self.stop.is_set():
                    self.last_wait = 0
                    return []
                batch = self._take()
                if batch:
                    return batch
                if self.handed:  # handed to the worker by a long poll's thread
                    self.handoff()
                    return []
                if failure is not None:
                    self.failed = failure
                    return None
        finally:
            self.long_polling = False

    def _wait_here(self, wanted: int) -> list[Held] | None:
        """One queue: its long poll runs in the poller's own thread (a message is handed to
        the worker without a detour through another thread: the pick-up of the default,
        one worker per queue)."""
        source = self.sources[0]
        batch = self.receive(source, wanted, self.poll_period)
        if batch is None:
            return None
        if not batch:
            return self._stay_idle()
        if self.stop.is_set() or self._closed:
            if self.release is not None:
                self.release(batch, "stopping")
            self.last_wait = 0
            return []
        self.strategy.found(source, len(batch))
        self.idle = False
        return batch

    def _waiting_on_nothing(self) -> bool:
        """No long poll out and none allowed: only failed queues, waiting for their retry."""
        return not self._retry_at

    def _stay_idle(self) -> list[Held]:
        self.idle = True
        self.last_wait = self.poll_period
        return []

    # -- one request ---------------------------------------------------------------------
    def receive(self, source: Source, wanted: int, wait: int) -> list[Held] | None:
        long_poll = wait > 0
        vt = min(LONG_POLL_VISIBILITY, source.visibility_timeout) if long_poll else source.visibility_timeout
        params = {
            "MaxNumberOfMessages": wanted,
            "WaitTimeSeconds": wait,
            "VisibilityTimeout": vt,
            "MessageSystemAttributeNames": ["All"],
            "MessageAttributeNames": ["All"],
        }
        if source.fifo:
            # The same id on a retried receive gets the same messages back, instead of
            # hiding their groups for a whole visibility timeout; kept until one works.
            params["ReceiveRequestAttemptId"] = self._attempt_ids.setdefault(source, uuid.uuid4().hex)
        try:
            url = source.url
            sent_at = time.monotonic()
            with wrap_errors("ReceiveMessage", source.full_name):
                response = get_client().receive_message(QueueUrl=url, **params)
        except SQSError as exc:
            if isinstance(exc, SQSRequestError) and exc.code in NONEXISTENT_QUEUE_CODES:
                queue_urls.clear_cache()
                source.forget_url()
            self.failed = exc
            signals.emit(signals.queue_polled, self.sender, queue=source.full_name, received=0, wait=wait, ok=False)
            return None
        self._attempt_ids.pop(source, None)
        answered = time.monotonic()
        handed_out = max(sent_at, answered - HANDOUT_ALLOWANCE)
        records = response.get("Messages", [])
        signals.emit(signals.queue_polled, self.sender, queue=source.full_name, received=len(records), wait=wait, ok=True)
        return [Held(source, r, received_at=handed_out, deadline=handed_out + vt, visibility=vt) for r in records]
