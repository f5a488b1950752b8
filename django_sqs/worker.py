"""``Worker``: serves one queue in this process, from the wire to the receiver.

The life of a batch, top to bottom:

1. ``receive`` — one long poll (``SQS_POLL_PERIOD``) for up to 10 messages, hidden for the
   receiver's visibility timeout; each is tracked with the time its visibility runs out.
2. ``handle_batch`` — the messages are handed to the receiver one by one; the heartbeat
   thread keeps the visibility of every tracked message extended meanwhile, so neither the
   one being worked on nor those waiting their turn reappear in the queue.
3. ``handle`` — decode, run the receiver (``handling.run_receiver``), note the outcome:
   delete, keep, or make visible again after a delay.
4. ``finish_batch`` — deletes go out with DeleteMessageBatch, unstarted messages (after a
   stop, or behind a kept message of the same FIFO group) are given back at once.

A failure to reach SQS never ends the worker: it logs once per outage and backs off.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import random
import signal
import threading
import time
from collections.abc import Iterable

from django.db import connections

from . import provisioning, queue_urls, receipts
from .client import NONEXISTENT_QUEUE_CODES, get_client, wrap_errors
from .conf import settings
from .exceptions import SQSError, SQSRequestError
from .handling import decode_message, run_receiver
from .registered_queue import RegisteredQueue

logger = logging.getLogger("django_sqs.worker")

MAX_MESSAGES_PER_RECEIVE = 10
#: Backoff while SQS cannot be reached: doubled from the first to the cap, with jitter.
BACKOFF_FIRST = 0.5
BACKOFF_CAP = 20.0
#: In burst mode an empty receive ends the worker; it waits at most this long for one.
BURST_POLL_PERIOD = 1
#: How often a failed delete is tried again before the message is left to come back.
DELETE_ATTEMPTS = 5

EXIT_FINISHED = 0  # --burst found the queue empty, or --message-limit was reached
EXIT_STOPPED = 0  # stopped by SIGTERM/SIGINT after a clean shutdown


def _open_connections():
    # A connection inside an atomic block belongs to someone who wrapped the worker in
    # a transaction (a test case); closing it would break that transaction.
    return [c for c in connections.all(initialized_only=True) if c.connection is not None and not c.in_atomic_block]


def prepare_connections() -> None:
    """Before a message, treat database connections as Django does before a request.

    Connections that are broken or past CONN_MAX_AGE are closed (``close_old_connections``).
    A worker idles far longer than a web process between uses, so a persistent
    connection may have been dropped by the server meanwhile: health checks are turned
    on for it, which Django runs lazily on its first use in this message.
    """
    for conn in _open_connections():
        conn.close_if_unusable_or_obsolete()
        if conn.connection is not None:
            conn.health_check_enabled = True


def finish_connections(close_all: bool) -> None:
    """After a message: as after a request, or close everything (``close_database``)."""
    for conn in _open_connections():
        if close_all:
            conn.close()
        else:
            conn.close_if_unusable_or_obsolete()


class _Interrupted(BaseException):
    """Raised by the signal handler to abandon a long poll or a backoff sleep.

    A BaseException, so that no ``except Exception`` in botocore swallows it.
    """


class Counter:
    """Messages handled; a ``multiprocessing`` shared value when a supervisor restarts
    children (so ``--message-limit`` counts across restarts), a plain int otherwise."""

    def __init__(self, shared=None):
        self._shared = shared
        self._value = 0

    @property
    def value(self) -> int:
        return self._shared.value if self._shared is not None else self._value

    def increment(self) -> None:
        if self._shared is not None:
            self._shared.value += 1
        else:
            self._value += 1


@dataclasses.dataclass(eq=False)
class Held:
    """A received message this worker holds, and when its visibility runs out."""

    record: dict
    deadline: float  # time.monotonic() at which SQS would hand it out again

    @property
    def receipt_handle(self) -> str:
        return self.record["ReceiptHandle"]

    @property
    def id(self) -> str:
        return self.record.get("MessageId", "?")

    @property
    def group(self) -> str | None:
        return (self.record.get("Attributes") or {}).get("MessageGroupId")


class Heartbeat(threading.Thread):
    """Extends the visibility of held messages before it runs out.

    A message is extended when less than half its visibility timeout is left, so a fast
    worker never makes a single extra request; a slow receiver, or a message waiting
    behind one, is kept hidden as long as this worker holds it.
    """

    def __init__(self, worker: Worker):
        super().__init__(name=f"django-sqs-heartbeat-{worker.full_name}", daemon=True)
        self.worker = worker
        self.vt = worker.visibility_timeout
        self.tick = max(0.2, min(self.vt / 4, 5.0))
        self.lock = threading.Lock()
        self.held: dict[str, Held] = {}
        self.stopped = threading.Event()

    def track(self, items: Iterable[Held]) -> None:
        with self.lock:
            for held in items:
                self.held[held.receipt_handle] = held

    def untrack(self, held: Held) -> None:
        with self.lock:
            self.held.pop(held.receipt_handle, None)

    def run(self) -> None:
        while not self.stopped.wait(self.tick):
            try:
                self.beat()
            except Exception:  # never let the heartbeat die; the next tick tries again
                logger.exception("heartbeat failed queue=%s", self.worker.full_name)

    def beat(self) -> None:
        now = time.monotonic()
        with self.lock:
            due = [h for h in self.held.values() if h.deadline - now < self.vt / 2]
        if not due or self.vt <= 0:
            return
        new_deadline = time.monotonic() + self.vt
        ok = self.worker.change_visibility(due, self.vt)
        for held in ok:
            held.deadline = new_deadline
        if ok:
            logger.debug("extended visibility queue=%s count=%d by=%ss", self.worker.full_name, len(ok), self.vt)

    def stop(self) -> None:
        self.stopped.set()


class Worker:
    """Receives from one SQS queue and hands each message to the queue's receiver."""

    def __init__(
        self,
        registered_queue: RegisteredQueue,
        *,
        suffix: str | None = None,
        message_limit: int | None = None,
        burst: bool = False,
        counter: Counter | None = None,
        parent_pid: int | None = None,
    ):
        if registered_queue.receiver is None:
            raise SQSError(f"Queue {registered_queue.name!r} has no receiver to run.")
        self.rq = registered_queue
        self.suffix = suffix
        self.full_name = registered_queue.full_name(suffix)
        self.message_limit = message_limit
        self.burst = burst
        self.counter = counter or Counter()
        self.parent_pid = parent_pid
        self.visibility_timeout = registered_queue.get_visibility_timeout()
        poll = settings.SQS_POLL_PERIOD
        self.poll_period = min(poll, BURST_POLL_PERIOD) if burst else poll
        self.url: str | None = None
        self.stopping = False
        self._interruptible = False
        self._outage_since: float | None = None
        self._failures = 0
        self._pending_deletes: list[tuple[Held, int]] = []
        self.heartbeat = Heartbeat(self)

    # -- lifecycle --------------------------------------------------------------------
    def run(self) -> int:
        """Serve the queue until stopped, empty (burst) or the limit; returns the exit code."""
        logger.info(
            "worker started queue=%s pid=%s poll_period=%ss visibility_timeout=%ss%s%s",
            self.full_name, os.getpid(), self.poll_period, self.visibility_timeout,
            " burst" if self.burst else "",
            f" message_limit={self.message_limit}" if self.message_limit else "",
        )
        self.heartbeat.start()
        try:
            while not self.stopping and not self.limit_reached():
                if self._pending_deletes:  # deletes that failed last time, SQS being away
                    self.flush_deletes()
                batch = self.receive()
                if batch is None:  # SQS could not be reached; backed off already
                    continue
                if not batch:
                    if self.burst:
                        break
                    continue
                self.handle_batch(batch)
        except _Interrupted:
            pass  # a stop signal during a long poll or a backoff: nothing in hand
        finally:
            self.heartbeat.stop()
            self.flush_deletes(final=True)
            finish_connections(close_all=False)
        logger.info(
            "worker stopped queue=%s pid=%s handled=%d reason=%s",
            self.full_name, os.getpid(), self.counter.value,
            "signal" if self.stopping else "limit" if self.limit_reached() else "empty",
        )
        return EXIT_STOPPED if self.stopping else EXIT_FINISHED

    def limit_reached(self) -> bool:
        return self.message_limit is not None and self.counter.value >= self.message_limit

    def request_stop(self, signum: int | None = None) -> None:
        """First call: stop after the message in hand. Second call: exit at once."""
        if self.stopping and signum is not None:
            logger.warning("second signal, exiting at once queue=%s", self.full_name)
            os._exit(128 + signum)
        self.stopping = True
        if signum is not None:
            logger.info("stopping queue=%s signal=%s", self.full_name, signal.Signals(signum).name)
        if self._interruptible:
            self._interruptible = False
            raise _Interrupted

    def install_signal_handlers(self) -> None:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda num, frame: self.request_stop(num))

    # -- receiving --------------------------------------------------------------------
    def receive(self) -> list[Held] | None:
        """One ReceiveMessage; [] when empty, None when SQS could not be reached."""
        if self.parent_pid is not None and os.getppid() != self.parent_pid:
            logger.warning("supervisor is gone, stopping queue=%s", self.full_name)
            self.stopping = True
            return []
        wanted = MAX_MESSAGES_PER_RECEIVE
        if self.message_limit is not None:
            wanted = max(1, min(wanted, self.message_limit - self.counter.value))
        try:
            if self.url is None:
                self.url = provisioning.queue_url(self.rq, self.suffix)
            sent_at = time.monotonic()
            self._interruptible = True
            try:
                with wrap_errors("ReceiveMessage", self.full_name):
                    response = get_client().receive_message(
                        QueueUrl=self.url,
                        MaxNumberOfMessages=wanted,
                        WaitTimeSeconds=self.poll_period,
                        VisibilityTimeout=self.visibility_timeout,
                        MessageSystemAttributeNames=["All"],
                        MessageAttributeNames=["All"],
                    )
            finally:
                self._interruptible = False
        except SQSError as exc:
            self.outage(exc)
            return None
        self.recovered()
        # The visibility clock started at the latest when the request left.
        deadline = sent_at + self.visibility_timeout
        batch = [Held(record, deadline) for record in response.get("Messages", [])]
        self.heartbeat.track(batch)
        if self.stopping:  # the signal came while the response was being read
            self.release(batch)
            return []
        return batch

    def outage(self, exc: SQSError) -> None:
        """Log once per outage, forget a URL that may be stale, back off with jitter."""
        if isinstance(exc, SQSRequestError) and exc.code in NONEXISTENT_QUEUE_CODES:
            queue_urls.clear_cache()
            self.url = None
        if self._outage_since is None:
            self._outage_since = time.monotonic()
            log = logger.warning if getattr(exc, "transient", False) else logger.error
            log("cannot reach SQS queue=%s error=%s; retrying with backoff", self.full_name, exc)
        self._failures += 1
        delay = min(BACKOFF_CAP, BACKOFF_FIRST * 2 ** (self._failures - 1))
        self.sleep(delay * random.uniform(0.5, 1.0))

    def recovered(self) -> None:
        if self._outage_since is not None:
            logger.warning(
                "SQS reachable again queue=%s after=%.1fs attempts=%d",
                self.full_name, time.monotonic() - self._outage_since, self._failures,
            )
        self._outage_since = None
        self._failures = 0

    def sleep(self, seconds: float) -> None:
        """Sleep, unless a stop signal comes first."""
        if self.stopping:
            return
        self._interruptible = True
        try:
            time.sleep(seconds)
        finally:
            self._interruptible = False

    # -- handling ---------------------------------------------------------------------
    def handle_batch(self, batch: list[Held]) -> None:
        blocked_groups: set[str] = set()
        unstarted: list[Held] = []
        for held in batch:
            if self.stopping or self.limit_reached():
                unstarted.append(held)
                continue
            if held.group is not None and held.group in blocked_groups:
                # FIFO: an earlier message of this group stays in the queue; a later one
                # must not overtake it, so it goes back too.
                unstarted.append(held)
                continue
            margin = min(1.0, self.visibility_timeout * 0.1)
            if held.deadline - time.monotonic() <= margin:
                logger.warning(
                    "visibility ran out before its turn, not handled queue=%s id=%s",
                    self.full_name, held.id,
                )
                self.heartbeat.untrack(held)
                if held.group is not None:
                    blocked_groups.add(held.group)
                continue
            if not self.handle(held) and held.group is not None:
                blocked_groups.add(held.group)
        self.release(unstarted)
        self.flush_deletes()

    def handle(self, held: Held) -> bool:
        """Run the receiver on one message; True if the message is done (deleted)."""
        message = decode_message(self.rq, held.record, self.full_name)
        prepare_connections()
        try:
            if self.rq.delete_on_start:
                self.heartbeat.untrack(held)
                self.delete_now(held)
                run_receiver(self.rq, message)
                return True
            outcome = run_receiver(self.rq, message)
            if outcome.delete:
                self._pending_deletes.append((held, 0))
                return True
            self.heartbeat.untrack(held)
            if outcome.delay is not None:
                self.change_visibility([held], outcome.delay)
            return False
        finally:
            self.counter.increment()
            finish_connections(close_all=self.rq.close_database)

    # -- requests that change messages --------------------------------------------------
    def _batch_request(self, action: str, held: list[Held], **extra: int) -> tuple[list[Held], list[tuple[Held, str]]]:
        """``action`` on ``held`` in requests of 10; returns (succeeded, [(failed, code)]).
        A request that fails as a whole counts as failed for each of its messages."""
        ok: list[Held] = []
        failed: list[tuple[Held, str]] = []
        for start in range(0, len(held), receipts.MAX_ENTRIES):
            chunk = held[start : start + receipts.MAX_ENTRIES]
            try:
                done, refused = receipts.batch_request(
                    action, self.url, self.full_name, [h.receipt_handle for h in chunk], **extra
                )
            except SQSError as exc:
                failed += [(h, getattr(exc, "code", "") or "error") for h in chunk]
                continue
            ok += [chunk[i] for i in done]
            failed += [(chunk[i], code) for i, code, _ in refused]
        return ok, failed

    def change_visibility(self, held: list[Held], seconds: int) -> list[Held]:
        """ChangeMessageVisibilityBatch; returns the messages it worked for."""
        ok, failed = self._batch_request("ChangeMessageVisibilityBatch", held, VisibilityTimeout=seconds)
        for item, code in failed:
            logger.warning("visibility change failed queue=%s id=%s code=%s", self.full_name, item.id, code)
        return ok

    def release(self, held: list[Held]) -> None:
        """Give messages back to the queue at once (visibility 0)."""
        if not held:
            return
        for item in held:
            self.heartbeat.untrack(item)
        ok = self.change_visibility(held, 0)
        logger.info("released queue=%s count=%d", self.full_name, len(ok))

    def delete_now(self, held: Held) -> None:
        self._pending_deletes.append((held, 0))
        self.flush_deletes()

    def flush_deletes(self, final: bool = False) -> None:
        """DeleteMessageBatch for handled messages; failed entries are tried again later."""
        if not self._pending_deletes or self.url is None:
            return
        attempts = {h.receipt_handle: n for h, n in self._pending_deletes}
        pending = [h for h, _ in self._pending_deletes]
        self._pending_deletes = []
        ok, failed = self._batch_request("DeleteMessageBatch", pending)
        for held in ok:
            self.heartbeat.untrack(held)
        for held, code in failed:
            tries = attempts[held.receipt_handle] + 1
            if tries >= DELETE_ATTEMPTS or final or code == "ReceiptHandleIsInvalid":
                logger.error(
                    "delete failed, message will come back queue=%s id=%s code=%s attempts=%d",
                    self.full_name, held.id, code, tries,
                )
                self.heartbeat.untrack(held)
            else:
                logger.warning("delete failed, will retry queue=%s id=%s code=%s", self.full_name, held.id, code)
                self._pending_deletes.append((held, tries))
