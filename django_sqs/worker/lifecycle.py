"""``Worker``: serves one or more queues in this process, from the wire to the receiver.

The threads of a worker process, and what each holds:

- the poller thread runs the ``Poller`` (``polling``): when there is room, it receives the
  next batch (already on its way while the current messages are handled) and adds it to
  the ``Dispatcher`` (``dispatch``);
- ``--threads`` handler threads (``handlers``; the main thread is the first) take messages from the dispatcher and run
  their receivers; ``async def`` receivers run on the process's event loop (``event_loop``);
- the ``Heartbeat`` (``heartbeat``) keeps every held message hidden while it is held;
- the ``Deleter`` (``deleting``) deletes handled messages in the background, batched.

The main thread is the first handler thread; the poller has a thread of its own.
A stop (SIGTERM/SIGINT) ends polling at once (a long poll is abandoned), gives back
every unstarted message, lets the messages in hand finish, flushes the deletes and exits
0. A failure to reach SQS never ends the worker: it logs once per outage and backs off.
"""

from __future__ import annotations

import logging
import os
import random
import signal
import threading
import time

from .. import signals
from ..conf import settings
from ..exceptions import SQSError
from ..registered_queue import RegisteredQueue
from . import requests
from .connections import finish_connections
from .deleting import Deleter
from .dispatch import Counter, Dispatcher
from .handlers import Handlers
from .heartbeat import Heartbeat
from .polling import MAX_MESSAGES_PER_RECEIVE, Poller
from .sources import Held, Source, ids
from .strategy import strategy_for

logger = logging.getLogger("django_sqs.worker")

#: Messages a worker may hold beyond one per thread: one receive's worth of look-ahead.
LOOK_AHEAD = MAX_MESSAGES_PER_RECEIVE
#: Backoff while SQS cannot be reached: doubled from the first to the cap, with jitter.
BACKOFF_FIRST = 0.5
BACKOFF_CAP = 20.0
#: In burst mode an empty receive ends the worker; it waits at most this long for one.
BURST_POLL_PERIOD = 1
#: A supervised child gets a stop twice when the whole process group is signalled
#: (systemd's KillMode=control-group, pkill): directly, and forwarded by the supervisor.
#: The same signal again within this window is that same stop, not a second one.
SAME_STOP_WINDOW = 1.0
#: Unsupervised, the twin comes from a wrapper that forwards the signal (uv run, honcho)
#: within milliseconds; an operator's second Ctrl-C takes longer.
FORWARDED_STOP_WINDOW = 0.2
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)

EXIT_OK = 0  # burst found the queues empty, the limit was reached, or stopped cleanly
EXIT_CRASHED = 1  # the poller died of a bug: a supervisor restarts the process
#: A stopping worker abandons a long poll after this (what SQS hands it comes back
#: within LONG_POLL_VISIBILITY seconds), and waits up to SHORT_RECEIVE_JOIN for the
#: answer of a short receive (whose messages it must give back), and up to
#: SHUTDOWN_FLUSH for the last deletes.
POLLER_JOIN = 0.1
#: After an idle worker received, the poller pauses this long (or until a handler took
#: a message) before its next receive: the pick-up latency figure of SPEC §9.
HANDOFF_WAIT = 0.02
SHORT_RECEIVE_JOIN = 10.0
SHUTDOWN_FLUSH = 20.0
#: With --priority, while messages of lower queues wait in the worker (look-ahead) and
#: there is no room for a full receive, the top queue is checked this often (a short
#: receive), so a message sent to it meanwhile starts before them: at most one request a
#: second, and only while lower queues' messages wait.
WATCH_PERIOD = 1.0


def sources_for(queues: list[RegisteredQueue], suffix: str | None = None) -> list[Source]:
    """The queues a worker serves, in rank order. A queue that declares priority levels
    (``priority_suffixes``, as the tasks backend does) is served as its levels in order."""
    pairs: list[tuple[RegisteredQueue, str | None]] = []
    for rq in queues:
        levels = getattr(rq, "priority_suffixes", None)
        if levels and suffix is None:
            pairs += [(rq, level) for level in levels]
        else:
            pairs.append((rq, suffix))
    return [Source(rq, s, rank) for rank, (rq, s) in enumerate(pairs)]


class Worker:
    """Receives from its queues (in priority order) and runs their receivers on threads."""

    def __init__(
        self,
        queues: RegisteredQueue | list[RegisteredQueue] | list[Source],
        *,
        suffix: str | None = None,
        threads: int = 1,
        message_limit: int | None = None,
        burst: bool = False,
        counter: Counter | None = None,
        parent_pid: int | None = None,
        weights: dict[str, int] | None = None,
        label: str = "",
    ):
        if isinstance(queues, RegisteredQueue):
            queues = [queues]
        if queues and all(isinstance(q, Source) for q in queues):
            self.sources = list(queues)
        else:
            for rq in queues:
                if rq.receiver is None:
                    raise SQSError(f"Queue {rq.name!r} has no receiver to run.")
            self.sources = sources_for(queues, suffix)
        self.names = [s.full_name for s in self.sources]
        # Weighted (issue 18): the queues share the worker in proportion to their weights.
        self.strategy = strategy_for(self.sources, weights)
        self.label = label
        self.threads = threads
        self.message_limit = message_limit
        self.burst = burst
        self.counter = counter or Counter()
        self.parent_pid = parent_pid
        poll = settings.SQS_POLL_PERIOD
        self.poll_period = min(poll, BURST_POLL_PERIOD) if burst else poll
        self.stopping = False
        self.reason = ""
        self._stop_signal: tuple[int, float] | None = None
        self._stop_event = threading.Event()
        self._last_watch = 0.0
        self._saved_handlers: dict[int, object] = {}
        self._outage_since: float | None = None
        self._failures = 0
        shortest = min(min(s.visibility_timeout for s in self.sources), 2)
        self.heartbeat = Heartbeat(shortest)
        self.deleter = Deleter(self.heartbeat)
        self.dispatcher = Dispatcher(threads=threads, counter=self.counter, message_limit=message_limit)
        self.handlers = Handlers(
            threads=threads, dispatcher=self.dispatcher, heartbeat=self.heartbeat,
            deleter=self.deleter, release=self.release, sender=type(self),
        )
        self.poller = Poller(
            self.sources, poll_period=self.poll_period, sender=type(self), strategy=self.strategy,
            track=self.heartbeat.track, release=self.release, stop=self._stop_event,
            deliver=self._deliver, handoff=lambda: self.dispatcher.wait_for_change(HANDOFF_WAIT),
        )
        self._poller_thread = threading.Thread(target=self._poll, name="django-sqs-poller", daemon=True)

    # -- lifecycle --------------------------------------------------------------------
    def run(self) -> int:
        """Serve until stopped, empty (burst) or the limit; returns the exit code."""
        logger.info(
            "worker started queues=%s pid=%s threads=%d poll_period=%ss visibility_timeout=%s mode=%s%s%s%s",
            ",".join(self.names), os.getpid(), self.threads, self.poll_period,
            ",".join(f"{s.visibility_timeout}s" for s in self.sources), self.strategy.describe(),
            f" group={self.label}" if self.label else "",
            " burst" if self.burst else "",
            f" message_limit={self.message_limit}" if self.message_limit else "",
        )
        self.heartbeat.start()
        self.deleter.start()
        self.handlers.start()
        self._poller_thread.start()
        signals.emit(
            signals.worker_started, type(self), queues=self.names, pid=os.getpid(), threads=self.threads,
            worker=self.label or "+".join(self.names), mode=self.strategy.describe().split()[0],
        )
        try:
            self.handlers.run_here()  # until the dispatcher closes: stop, empty, limit
        finally:
            # Also when something escaped the handler loop: handled messages are still
            # deleted and unstarted ones given back.
            try:
                self.shutdown()
            finally:
                self.restore_signal_handlers()
        logger.info(
            "worker stopped queues=%s pid=%s handled=%d reason=%s",
            ",".join(self.names), os.getpid(), self.counter.value, self.reason,
        )
        return EXIT_CRASHED if self.reason == "poller crashed" else EXIT_OK

    def _poll(self) -> None:
        """The poller thread: serve, then close the dispatcher so the handlers end."""
        try:
            reason = self.serve()
        except Exception:
            logger.exception("poller crashed queue=%s", ",".join(self.names))
            reason = "poller crashed"
        self.reason = self.reason or reason
        self.dispatcher.close()
        self.poller.close()  # what its long polls bring from now on goes back

    def serve(self) -> str:
        """Receive while there is room; returns why it ended."""
        while True:
            if self.stopping:
                return "signal"
            if self.parent_pid is not None and os.getppid() != self.parent_pid:
                logger.warning("supervisor is gone, stopping queue=%s", ",".join(self.names))
                return "parent gone"
            if self.limit_reached():
                return "limit"
            room = self.dispatcher.room(LOOK_AHEAD)
            was_idle = False
            starving = room > 0 and self.dispatcher.waiting_count() == 0
            if room < MAX_MESSAGES_PER_RECEIVE and not starving:
                now = time.monotonic()
                if now - self._last_watch >= WATCH_PERIOD and self.dispatcher.waiting_below(self.sources[0]):
                    self._last_watch = now
                    batch = self.poller.watch(self.sources[0], max(1, room))
                else:
                    self.dispatcher.wait_for_change(0.1)  # until one receive's worth fits
                    continue
            else:
                was_idle = self.poller.idle
                batch = self.poller.round(room)
            if batch is None:
                self.outage(self.poller.failed)
                continue
            self.recovered()
            if batch:
                self.heartbeat.track(batch)
                if self.stopping or not self.dispatcher.add(batch):
                    self.release(batch, "stopping")  # the stop came while the receive was out
                    return "signal"
                if was_idle:
                    # Picked up by an idle worker: let a handler take it before this thread
                    # builds its next request (which would hold the GIL meanwhile).
                    self.dispatcher.wait_for_change(HANDOFF_WAIT)
            elif self.burst and self.poller.idle and self.poller.last_wait == self.poll_period:
                # Empty after a receive that waited (a short one may miss messages on SQS).
                if self.dispatcher.held_count() == 0:
                    return "empty"
                # Messages in hand may yet come back (RestartLater): look once more after them.
                while self.dispatcher.held_count() and not self.stopping:
                    self.dispatcher.wait_for_change(0.1)

    def _deliver(self, batch: list[Held]) -> bool:
        """What a long poll brought, from that long poll's thread: to the handlers at once."""
        self.heartbeat.track(batch)
        if self.stopping or not self.dispatcher.add(batch):
            self.release(batch, "stopping")
            return False
        return True

    def shutdown(self) -> None:
        signals.emit(signals.worker_stopping, type(self), queues=self.names, pid=os.getpid(), reason=self.reason)
        self.dispatcher.close()
        self.release(self.dispatcher.take_unstarted(), "stopping")
        in_hand = self.dispatcher.in_hand()
        if in_hand:
            logger.info(
                "finishing %d message(s) in hand queue=%s ids=%s",
                len(in_hand), ",".join(self.names), ids(in_hand),
            )
        self.handlers.join()
        # A poller inside a long poll is abandoned (what SQS hands it comes back within
        # LONG_POLL_VISIBILITY seconds); one that is about to hand over a batch gives it back.
        self._stop_event.set()
        deadline = time.monotonic() + SHORT_RECEIVE_JOIN
        if not self.poller.long_polling:
            self._poller_thread.join(POLLER_JOIN)
        while self._poller_thread.is_alive() and not self.poller.long_polling and time.monotonic() < deadline:
            # A short receive hides its messages for the full timeout: wait for its
            # answer, so that the poller gives them back.
            self._poller_thread.join(0.05)
        self.deleter.stop()
        self.deleter.join(SHUTDOWN_FLUSH)
        self.heartbeat.stop()
        self.handlers.stop()
        finish_connections(close_all=False)

    def limit_reached(self) -> bool:
        return self.message_limit is not None and self.counter.value >= self.message_limit

    # -- stopping -----------------------------------------------------------------------
    def request_stop(self, signum: int | None = None) -> None:
        """First call: stop after the messages in hand. Another signal: exit at once
        (unless it is the same stop delivered twice to a supervised child)."""
        now = time.monotonic()
        if self.stopping and signum is not None:
            if self._stop_signal is not None:
                first, at = self._stop_signal
                window = SAME_STOP_WINDOW if self.parent_pid is not None else FORWARDED_STOP_WINDOW
                if first == signum and now - at < window:
                    return  # the group-wide signal and its forward (supervisor or wrapper)
            logger.warning("second signal, exiting at once queue=%s", ",".join(self.names))
            os._exit(128 + signum)
        self.stopping = True
        if signum is not None:
            self._stop_signal = (signum, now)
            self._announce_stop(signum)
            self.reason = self.reason or "signal"
        self.dispatcher.close()  # no I/O here: the releases happen in shutdown()
        self._stop_event.set()

    def _announce_stop(self, signum: int) -> None:
        in_hand = self.dispatcher.in_hand()
        if in_hand:
            doing = f"finishing {len(in_hand)} message(s) in hand ({ids(in_hand)})"
        else:
            doing = "nothing in hand"
        again = "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name
        logger.warning(
            "stopping on %s queue=%s: %s, giving unstarted messages back; %s again exits at once",
            signal.Signals(signum).name, ",".join(self.names), doing, again,
        )

    def install_signal_handlers(self) -> None:
        for signum in STOP_SIGNALS:
            self._saved_handlers[signum] = signal.signal(signum, lambda num, frame: self.request_stop(num))

    def restore_signal_handlers(self) -> None:
        """In-process runs (``call_command`` in a test or a script) get their handlers back."""
        for signum, handler in self._saved_handlers.items():
            signal.signal(signum, handler)
        self._saved_handlers.clear()

    # -- giving back, outages ---------------------------------------------------------------
    def release(self, held: list[Held], why: str) -> None:
        """Give messages back to the queue at once (visibility 0)."""
        if not held:
            return
        with self.heartbeat.decisions:
            self.heartbeat.untrack(held)
            ok = requests.change_visibility(held, 0, f"release, {why}")
        for name in dict.fromkeys(h.source.full_name for h in ok):
            mine = [h for h in ok if h.source.full_name == name]
            logger.info("released queue=%s count=%d ids=%s (%s)", name, len(mine), ids(mine), why)

    def outage(self, exc: SQSError) -> None:
        """Log once per outage, back off with jitter."""
        if self._outage_since is None:
            self._outage_since = time.monotonic()
            log = logger.warning if getattr(exc, "transient", False) else logger.error
            what = "no AWS credentials found" if getattr(exc, "code", "") == "NoCredentialsError" else "cannot reach SQS"
            log("%s queue=%s error=%s; retrying with backoff", what, ",".join(self.names), exc)
        self._failures += 1
        delay = min(BACKOFF_CAP, BACKOFF_FIRST * 2 ** (self._failures - 1))
        self.sleep(delay * random.uniform(0.5, 1.0))

    def recovered(self) -> None:
        if self._outage_since is not None:
            logger.warning(
                "SQS reachable again queue=%s after=%.1fs attempts=%d",
                ",".join(self.names), time.monotonic() - self._outage_since, self._failures,
            )
        self._outage_since = None
        self._failures = 0

    def sleep(self, seconds: float) -> None:
        """Sleep, unless a stop comes first."""
        self._stop_event.wait(seconds)
