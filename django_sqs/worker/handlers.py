"""The handler threads: each takes the next message from the dispatcher and runs it.

One message, top to bottom (``handle``): skip it if its visibility ran out while it
waited; decode it; for ``delete_on_start``, delete it first and run the receiver only if
the delete succeeded (at most once); run the receiver (``handling.run_receiver``, with
the process's event loop for ``async def`` receivers); then delete it in the background,
or leave it in the queue (``RestartLater``, a failure kept for the dead-letter queue),
giving back the later messages of its FIFO group.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import sync_to_async

from .. import signals, tracing
from ..handling import Outcome, decode_message, run_receiver
from . import requests
from .connections import close_thread_connections, finish_connections, prepare_connections
from .deleting import Deleter
from .dispatch import Dispatcher
from .event_loop import EventLoopThread
from .heartbeat import Heartbeat
from .sources import Held

logger = logging.getLogger("django_sqs.worker")

EXPIRED = Outcome(delete=False, reason="expired")


def expiry_margin(held: Held) -> float:
    """A message with less than this left is not started: SQS may hand it out again
    while it runs. A quarter of the current hiding, at most half a second."""
    return min(0.5, held.visibility / 4)


async def _with_connections(awaitable: Awaitable[Any], close_all: bool) -> Any:
    """An async receiver's ORM runs in asgiref's thread-sensitive executor thread, not in
    the handler thread: the connection handling around the message happens there too."""
    await sync_to_async(prepare_connections)()
    try:
        return await awaitable
    finally:
        await sync_to_async(finish_connections)(close_all)


class Handlers:
    def __init__(
        self,
        *,
        threads: int,
        dispatcher: Dispatcher,
        heartbeat: Heartbeat,
        deleter: Deleter,
        release: Callable[[list[Held], str], None],
        sender: type,
    ):
        self.dispatcher = dispatcher
        self.heartbeat = heartbeat
        self.deleter = deleter
        self.release = release
        self.sender = sender
        self.loop = EventLoopThread()
        # The main thread is the first handler (``run_here``): with one thread, receivers
        # run where the command was called, as before (a test's database transaction
        # included); the others are threads of their own.
        self._threads = [
            threading.Thread(target=self.run_here, name=f"django-sqs-handler-{i}", daemon=True) for i in range(1, threads)
        ]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the threads to end; True when all did."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in self._threads:
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        return not any(t.is_alive() for t in self._threads)

    def alive(self) -> int:
        return sum(t.is_alive() for t in self._threads)

    def stop(self) -> None:
        self.loop.stop()

    def run_here(self) -> None:
        """Take and handle messages until the dispatcher is closed (or at the limit)."""
        try:
            while (held := self.dispatcher.take()) is not None:
                counted = True
                try:
                    counted = self.handle(held)
                except BaseException:  # a bug of ours: the message comes back by visibility
                    logger.exception("handling failed queue=%s id=%s", held.source.full_name, held.id)
                    self.heartbeat.untrack([held])
                    self._give_back_group(held)
                finally:
                    self.dispatcher.done(held, counted)
        finally:
            if threading.current_thread() is not threading.main_thread():
                close_thread_connections()

    def handle(self, held: Held) -> bool:
        """Run one message; False when it was not handed to the receiver (not counted)."""
        source = held.source
        rq = source.rq
        if held.remaining() <= expiry_margin(held):
            logger.warning(
                "visibility ran out before its turn, not handled queue=%s id=%s", source.full_name, held.id
            )
            # Its receipt handle is stale (SQS may have handed it out again): send nothing
            # about it; a FIFO group's later messages must not overtake it.
            self.heartbeat.untrack([held])
            self._give_back_group(held)
            self._emit_handled(held, EXPIRED, 0.0)
            return False
        message = decode_message(rq, held.record, source.full_name)
        if rq.delete_on_start and not self._delete_first(held):
            self._give_back_group(held)  # it stays in the queue: its group waits behind it
            return False
        signals.emit(
            signals.message_received, self.sender,
            queue=source.full_name, message_id=held.id, receive_count=held.receive_count,
            sent_at=getattr(message, "sent_at", None),
        )
        started = time.monotonic()
        prepare_connections()
        try:
            with tracing.consumer_span(message):
                outcome = run_receiver(
                    rq, message, await_with=lambda aw: self.loop.run(_with_connections(aw, rq.close_database))
                )
        finally:
            finish_connections(close_all=rq.close_database)
        self._settle(held, outcome, time.monotonic() - started)
        return True

    def _delete_first(self, held: Held) -> bool:
        """``delete_on_start``: at most once, so the receiver runs only if the delete worked."""
        self.heartbeat.untrack([held])
        ok, failed = requests.delete([held])
        if ok:
            return True
        logger.error(
            "delete before start failed, not running it (delete_on_start) queue=%s id=%s code=%s",
            held.source.full_name, held.id, failed[0][1] if failed else "?",
        )
        return False

    def _settle(self, held: Held, outcome: Outcome, duration: float) -> None:
        if outcome.delete:
            if not held.source.rq.delete_on_start:
                # SQS holds a FIFO group's next message back until this delete lands:
                # unless the group's next message is already here, it goes at once.
                urgent = held.group is not None and not self.dispatcher.group_waiting(held)
                self.deleter.add(held, urgent=urgent)
        else:
            with self.heartbeat.decisions:
                self.heartbeat.untrack([held])
                delay = outcome.delay
                if delay is None and held.visibility < held.source.visibility_timeout:
                    # Received by a long poll, hidden for seconds only: it must come back
                    # after the receiver's visibility timeout, as documented.
                    delay = held.source.visibility_timeout
                if delay is not None:
                    requests.change_visibility([held], delay, f"restart in {delay}s")
            if outcome.delay is not None:
                self.dispatcher.expect_back(outcome.delay)  # a burst is not drained before
            self._give_back_group(held)
        self._emit_handled(held, outcome, duration)

    def _give_back_group(self, held: Held) -> None:
        """``held`` stays in the queue: its FIFO group's later messages held here must not
        overtake it, so they go back too."""
        later = self.dispatcher.drop_group(held)
        if later:
            self.release(later, "after an earlier message of its FIFO group stayed in the queue")

    def _emit_handled(self, held: Held, outcome: Outcome, duration: float) -> None:
        signals.emit(
            signals.message_handled, self.sender,
            queue=held.source.full_name, message_id=held.id, outcome=outcome.reason,
            duration=duration, receive_count=held.receive_count,
        )
