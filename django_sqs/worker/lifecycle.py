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
A stop (SIGTERM/SIGINT) ends polling at once (a long poll is abandoned); the stopper
thread gives back every unstarted message at once, while the messages in hand finish
(Python's C-level signal handler wakes it through the wakeup fd: a signal may land in
the middle of a receiver on the main thread, even inside one long C call); then the deletes are flushed and the worker exits 0. Everything after the
messages in hand has a deadline (``STOP_DEADLINE``): what could not be given back or
deleted by then is left to its visibility timeout, and said so. A failure to reach SQS
never ends a long-running worker: it logs once per outage and backs off.
"""

from __future__ import annotations

import logging
import os
import random
import signal
import sys
import threading
import time
import traceback

from .. import signals
from ..conf import settings
from ..exceptions import SQSError
from ..registered_queue import RegisteredQueue
from . import requests
from .connections import finish_connections
from .deleting import FLUSH_AFTER, Deleter
from .dispatch import BACK_WAIT_CAP, Counter, Dispatcher
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
#: A graceful stop: the messages in hand finish, the unstarted go back at once. SIGHUP
#: too: a closing terminal or ssh session sends it to the whole foreground group.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
#: An immediate stop (Ctrl-\ in a terminal): the unstarted messages still go back, and the handled
#: ones' deletes are flushed, within ``QUIT_DEADLINE``; the messages in hand are abandoned
#: (they come back when their visibility timeout runs out).
QUIT_SIGNAL = signal.SIGQUIT
QUIT_DEADLINE = 3.0
#: Every thread's stack to the log, the worker going on: what is a stuck worker doing?
DUMP_SIGNAL = signal.SIGUSR1
#: What a worker (and the supervisor) handles; blocked around a fork.
HANDLED_SIGNALS = (*STOP_SIGNALS, QUIT_SIGNAL, DUMP_SIGNAL)
#: Bytes on the stopper thread's pipe.
_WAKE_STOP = b"x"
_STOP_NUMBERS = frozenset(int(s) for s in (*STOP_SIGNALS, QUIT_SIGNAL))

EXIT_OK = 0  # burst found the queues empty, the limit was reached, or stopped cleanly
EXIT_CRASHED = 1  # the poller died of a bug: a supervisor restarts the process
EXIT_UNREACHABLE = 2  # --burst could not reach SQS (or had no credentials): retries spent
#: --burst gives up after this many failed rounds in a row (about 10 s of backoff).
BURST_ATTEMPTS = 6
#: While SQS keeps failing, a long-running worker says so again this often.
OUTAGE_REPEAT = 60.0
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
#: Once the messages in hand are done, the rest of a stop (the give-back, a short receive's
#: answer, the last deletes) ends within this many seconds, even when SQS never answers.
STOP_DEADLINE = 8.0
#: Before a receive, the longest wait for this worker's own FIFO messages in flight to
#: settle (``Worker._fifo_in_flight``).
FIFO_SETTLE_WAIT = 0.5
#: With --priority, while messages of lower queues wait in the worker (look-ahead) and
#: there is no room for a full receive, the top queue is checked this often (a short
#: receive), so a message sent to it meanwhile starts before them: at most one request a
#: second, and only while lower queues' messages wait.
WATCH_PERIOD = 1.0


def dump_stacks(who: str) -> None:
    """Every thread's stack to the log (SIGUSR1): what a stuck worker is doing."""
    names = {t.ident: t.name for t in threading.enumerate()}
    parts = [
        f"--- thread {names.get(ident, ident)} ---\n{''.join(traceback.format_stack(frame))}"
        for ident, frame in sys._current_frames().items()
    ]
    logger.warning("stack dump on SIGUSR1 pid=%s %s\n%s", os.getpid(), who, "\n".join(parts))


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
        # The signal handler wakes the stopper thread through this pipe: a write to a pipe
        # is safe in a signal handler (an Event's lock is not: the main thread may hold it).
        self._wake_read, self._wake_write = os.pipe()
        self._stopper_thread = threading.Thread(target=self._stopper, name="django-sqs-stopper", daemon=True)
        self._stop_done = threading.Event()  # the unstarted messages were given back
        self._quit = False
        self.fifo = any(s.fifo for s in self.sources)
        self._fifo_wait_until: float | None = None
        self._last_watch = 0.0
        self._saved_handlers: dict[int, object] = {}
        self._saved_wakeup_fd = -1
        self._outage_since: float | None = None
        self._outage_logged = 0.0
        self._outage_began = ""
        self._failures = 0
        shortest = min(min(s.visibility_timeout for s in self.sources), 2)
        self.heartbeat = Heartbeat(shortest)
        self.dispatcher = Dispatcher(threads=threads, counter=self.counter, message_limit=message_limit)
        self.deleter = Deleter(
            self.heartbeat,
            expecting=lambda exclude: self.dispatcher.finishing_soon(exclude, FLUSH_AFTER),
            sent=self.dispatcher.poke,
        )
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
        requests.prepare()  # before anything is received: see there
        self.heartbeat.start()
        self.deleter.start()
        self.handlers.start()
        self._stopper_thread.start()
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
                # Only now: a signal handler writing to a closed (and reused) descriptor
                # would write into someone else's file.
                os.close(self._wake_write)  # the stopper thread reads the end of the pipe
                self._stopper_thread.join(1.0)
                os.close(self._wake_read)
        later = self.dispatcher.left_for_later
        if self.burst and self.reason == "empty" and later:
            # "empty" would read as "nothing left": say what the next run will find.
            logger.warning(
                "--burst left %d message(s) in the queue for later (due in over %.0fs) queue=%s ids=%s",
                len(later), BACK_WAIT_CAP, ",".join(self.names), ids(later),
            )
        logger.info(
            "worker stopped queues=%s pid=%s handled=%d reason=%s",
            ",".join(self.names), os.getpid(), self.counter.value, self.reason,
        )
        if self.reason == "unreachable":
            return EXIT_UNREACHABLE
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
            if room and self._fifo_in_flight():
                continue  # waited a moment for them to settle: look again
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
                # On a FIFO queue an empty answer proves the queues drained only if nothing
                # of this worker's was in flight when it was asked for: SQS holds a group
                # back while one of its messages is (in hand, or its delete on its way).
                settled_before = self.settled() or not self.fifo
                batch = self.poller.round(room)
            if batch is None:
                if self.outage(self.poller.failed):
                    return "unreachable"
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
                if settled_before and self.settled():
                    return "empty"
                # Not drained while messages in hand may yet come back (RestartLater), a
                # message left for later is not visible again yet, or a delete has not
                # landed (SQS holds its FIFO group back until then): look again after that.
                while not self.settled() and not self.stopping:
                    self.dispatcher.wait_for_change(0.05)

    def _deliver(self, batch: list[Held]) -> bool:
        """What a long poll brought, from that long poll's thread: to the handlers at once."""
        self.heartbeat.track(batch)
        if self.stopping or not self.dispatcher.add(batch):
            self.release(batch, "stopping")
            return False
        return True

    def _stopper(self) -> None:
        """The stopper thread: reads the signals delivered (the wakeup fd) and decides;
        once a stop is decided (a signal, or the poller ended), a thread of its own says so
        and gives back the unstarted messages while the messages in hand finish. It also
        writes the stack dumps SIGUSR1 asks for (a signal handler must not log)."""
        stopped = False
        while True:
            try:
                data = os.read(self._wake_read, 64)
            except OSError:
                return
            if not data:  # the write end closed: the worker is done
                return
            for signum in data:  # the wakeup fd: one byte (its number) per signal delivered
                if signum in _STOP_NUMBERS:
                    self.request_stop(signum)
            if int(DUMP_SIGNAL) in data:  # from the wakeup fd, like the stop signals
                dump_stacks(f"queue={','.join(self.names)}")
            if _WAKE_STOP in data and not stopped:
                stopped = True
                # In a thread of its own: this one must go on reading, so that a second
                # signal exits at once even while the give-back waits for SQS.
                threading.Thread(target=self._stop_work, name="django-sqs-give-back", daemon=True).start()

    def _stop_work(self) -> None:
        if self._quit:
            # The immediate stop ends within QUIT_DEADLINE, give-back included, whatever
            # SQS does (its requests alone may take 14 s against an endpoint that hangs).
            timer = threading.Timer(QUIT_DEADLINE, self._quit_exit)
            timer.daemon = True
            timer.start()
        self._begin_stop()
        self._stop_done.set()
        if self._quit:
            self._quit_now()

    def _begin_stop(self) -> None:
        signals.emit(signals.worker_stopping, type(self), queues=self.names, pid=os.getpid(), reason=self.reason)
        if self._stop_signal is not None:
            self._announce_stop(self._stop_signal[0])
        self._stop_event.set()
        self.dispatcher.close()
        self.release(self.dispatcher.take_unstarted(), "stopping")

    def _quit_now(self) -> None:
        """SIGQUIT: the unstarted messages are back (``_begin_stop``); flush the deletes of
        the handled ones, then exit without waiting for the messages in hand."""
        self.deleter.stop()
        self.deleter.join(QUIT_DEADLINE)
        self._quit_exit()

    def _quit_exit(self) -> None:
        in_hand = self.dispatcher.in_hand()
        logger.warning(
            "quitting at once on SIGQUIT queue=%s: %d message(s) in hand abandoned (%s), they come back "
            "when their visibility timeout runs out",
            ",".join(self.names), len(in_hand), ids(in_hand),
        )
        logging.shutdown()
        os._exit(128 + QUIT_SIGNAL)

    def _wake(self, what: bytes = _WAKE_STOP) -> None:
        try:
            os.write(self._wake_write, what)
        except OSError:
            pass

    def _wake_stopper(self) -> None:
        self._wake(_WAKE_STOP)

    def shutdown(self) -> None:
        self.dispatcher.close()
        self._wake_stopper()  # when the poller ended the worker (burst, limit), no signal did
        in_hand = self.dispatcher.in_hand()
        if in_hand:
            logger.info(
                "finishing %d message(s) in hand queue=%s ids=%s",
                len(in_hand), ",".join(self.names), ids(in_hand),
            )
        self.handlers.join()
        deadline = time.monotonic() + STOP_DEADLINE

        def left() -> float:
            return max(0.0, deadline - time.monotonic())

        self._stop_done.wait(left())
        # A poller inside a long poll is abandoned (what SQS hands it comes back within
        # LONG_POLL_VISIBILITY seconds); one that is about to hand over a batch gives it back.
        self._stop_event.set()
        if not self.poller.long_polling:
            self._poller_thread.join(min(POLLER_JOIN, left()))
        receive_deadline = min(deadline, time.monotonic() + SHORT_RECEIVE_JOIN)
        while self._poller_thread.is_alive() and not self.poller.long_polling and time.monotonic() < receive_deadline:
            # A short receive hides its messages for the full timeout: wait for its
            # answer, so that the poller gives them back.
            self._poller_thread.join(0.05)
        self.deleter.stop()
        self.deleter.join(min(SHUTDOWN_FLUSH, left()))
        self._report_abandoned()
        self.heartbeat.stop()
        self.handlers.stop()
        finish_connections(close_all=False)

    def _report_abandoned(self) -> None:
        """After the stop's deadline: what is still unsettled is left to SQS."""
        if not self._stop_done.is_set():
            logger.error(
                "stop deadline reached before the unstarted messages were given back queue=%s; "
                "they come back when their visibility timeout runs out",
                ",".join(self.names),
            )
        undeleted = self.deleter.pending() if self.deleter.is_alive() else 0
        if undeleted:
            logger.error(
                "stop deadline reached with %d handled message(s) not deleted queue=%s; they come "
                "back when their visibility timeout runs out and run again",
                undeleted, ",".join(self.names),
            )
        if self._poller_thread.is_alive() and not self.poller.long_polling:
            logger.error(
                "stop deadline reached while a receive was out queue=%s; what it received comes "
                "back when its visibility timeout runs out",
                ",".join(self.names),
            )

    def _fifo_in_flight(self) -> bool:
        """Before a receive: while this worker's own FIFO messages are in flight (in
        hand, or their deletes on their way), their groups are held back: a receive asked
        now brings nothing of them (a request wasted, and a burst might take it for the
        end), and a long poll may not return a group's next message when it unblocks (the
        local server never does). Wait for them while nothing else waits to start, a
        moment at most (``FIFO_SETTLE_WAIT``); True while waiting."""
        if (
            not self.fifo
            or self.dispatcher.waiting_count()
            or (self.dispatcher.held_count() == 0 and self.deleter.pending() == 0)
        ):
            self._fifo_wait_until = None
            return False
        now = time.monotonic()
        if self._fifo_wait_until is None:
            self._fifo_wait_until = now + FIFO_SETTLE_WAIT
        if now >= self._fifo_wait_until or self.stopping:
            self._fifo_wait_until = None
            return False
        self.dispatcher.wait_for_change(0.1)  # a handler's finish or a delete wakes it
        return True

    def settled(self) -> bool:
        """Nothing held, nothing this worker left in the queue still hidden, and on a FIFO
        queue nothing left to delete (SQS holds the group back until then): an empty
        receive now means the queues are drained."""
        return (
            self.dispatcher.held_count() == 0
            and not (self.fifo and self.deleter.pending())
            and time.monotonic() >= self.dispatcher.back_at
        )

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
            self.reason = self.reason or "signal"
            self._quit = signum == QUIT_SIGNAL
        # No I/O here (the stopper thread calls this, and must go on reading signals): the
        # pipe wakes it again, and a thread of its own says so and gives back the
        # unstarted messages.
        self.dispatcher.close()
        self._wake_stopper()

    def _announce_stop(self, signum: int) -> None:
        in_hand = self.dispatcher.in_hand()
        if in_hand:
            doing = f"finishing {len(in_hand)} message(s) in hand ({ids(in_hand)})"
        else:
            doing = "nothing in hand"
        if signum == QUIT_SIGNAL:
            logger.warning(
                "stopping at once on SIGQUIT queue=%s: giving unstarted messages back, abandoning %d in hand",
                ",".join(self.names), len(in_hand),
            )
            return
        again = "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name
        logger.warning(
            "stopping on %s queue=%s: %s, giving unstarted messages back; %s again exits at once",
            signal.Signals(signum).name, ",".join(self.names), doing, again,
        )

    def install_signal_handlers(self) -> None:
        # The signals are acted on by the stopper thread, which reads their numbers from
        # the wakeup fd: Python's C-level handler writes them there at once, while a
        # Python-level handler runs only when the main thread next runs Python code (a
        # receiver inside one long C call, a computation or a blocking client library,
        # would hold the give-back, or the stack dump of a stuck worker, back until it
        # returns). The Python-level handlers only keep the default action (exit) away.
        for signum in HANDLED_SIGNALS:
            self._saved_handlers[signum] = signal.signal(signum, lambda num, frame: None)
        os.set_blocking(self._wake_write, False)  # set_wakeup_fd wants it so
        self._saved_wakeup_fd = signal.set_wakeup_fd(self._wake_write, warn_on_full_buffer=False)

    def restore_signal_handlers(self) -> None:
        """In-process runs (``call_command`` in a test or a script) get their handlers back."""
        if self._saved_handlers:
            signal.set_wakeup_fd(self._saved_wakeup_fd)
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
        self.dispatcher.expect_back(0)
        for name in dict.fromkeys(h.source.full_name for h in ok):
            mine = [h for h in ok if h.source.full_name == name]
            logger.info("released queue=%s count=%d ids=%s (%s)", name, len(mine), ids(mine), why)

    def outage(self, exc: SQSError) -> bool:
        """Log once per outage (and again every ``OUTAGE_REPEAT`` seconds while it lasts),
        back off with jitter. True when a burst gives up: its retries are spent."""
        what = "no AWS credentials found" if getattr(exc, "code", "") == "NoCredentialsError" else "cannot reach SQS"
        now = time.monotonic()
        if self._outage_since is None:
            self._outage_since = self._outage_logged = now
            self._outage_began = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime())
            log = logger.warning if getattr(exc, "transient", False) else logger.error
            log("%s queue=%s error=%s; retrying with backoff", what, ",".join(self.names), exc)
        elif now - self._outage_logged >= OUTAGE_REPEAT:
            self._outage_logged = now
            logger.error(
                "still failing since %s (%.0fs, %d attempts): %s queue=%s error=%s",
                self._outage_began, now - self._outage_since, self._failures + 1, what, ",".join(self.names), exc,
            )
        self._failures += 1
        if self.burst and self._failures >= BURST_ATTEMPTS:
            logger.error(
                "giving up (--burst) after %d attempts over %.0fs: %s queue=%s error=%s",
                self._failures, now - self._outage_since, what, ",".join(self.names), exc,
            )
            return True
        delay = min(BACKOFF_CAP, BACKOFF_FIRST * 2 ** (self._failures - 1))
        self.sleep(delay * random.uniform(0.5, 1.0))
        return False

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
