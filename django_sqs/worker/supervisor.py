"""``Supervisor``: one child process per worker and concurrency slot, kept alive.

A worker serves one queue, or several: in rank order (``--priority``, a queue with
priority levels) or by weight (``--weights``, ``--together``); each worker of
``SQS_WORKERS`` (``groups.Plan``) has its own threads and concurrency. The parent does no
SQS work. It closes its database connections and forks the children; it restarts a child
that dies (with backoff), reaps every child (also orphans, so it is safe as PID 1 in a
container), forwards SIGTERM, SIGINT, SIGHUP, SIGQUIT and SIGUSR1 to the children and waits
for them. Children exit when the parent dies, even by SIGKILL (Linux parent-death signal,
plus a check of the parent pid in the receive loop).

Stop signals are blocked around ``fork``: a stop that arrives then is handled by the
parent once the child exists (and forwarded to it), never by a just-forked child running
the parent's handler; the child installs its worker's handlers before it unblocks them.
No child is started once a stop began.

With one worker and concurrency 1 there is no child: the worker runs in this process.
"""

from __future__ import annotations

import ctypes
import dataclasses
import logging
import multiprocessing
import os
import signal
import sys
import time

from django.db import connections

from .. import ops
from .dispatch import Counter
from .groups import Plan
from .lifecycle import (
    DUMP_SIGNAL,
    EXIT_UNREACHABLE,
    HANDLED_SIGNALS,
    QUIT_SIGNAL,
    STOP_SIGNALS,
    Worker,
    dump_stacks,
)
from .sources import Source

logger = logging.getLogger("django_sqs.worker")

#: A child that lived shorter than this before dying counts as a quick failure.
HEALTHY_AFTER = 10.0
RESTART_FIRST = 0.5
RESTART_CAP = 30.0
#: Child exit code for "stopped by a signal" (told apart from "finished": 0).
EXIT_CHILD_STOPPED = 3
#: The supervisor's exit code when a child did not stop cleanly (a second signal made it
#: exit at once, or it crashed while stopping): messages in hand were abandoned.
EXIT_FORCED = 1
PR_SET_PDEATHSIG = 1


@dataclasses.dataclass
class Slot:
    """One child's place: which queues it serves, and its history."""

    plan: Plan
    index: int
    counter: Counter
    pid: int | None = None
    started: float = 0.0
    quick_failures: int = 0
    restart_at: float | None = None
    done: bool = False

    @property
    def sources(self) -> list[Source]:
        return self.plan.sources

    @property
    def label(self) -> str:
        return f"{self.plan.label}#{self.index}"


class Supervisor:
    def __init__(
        self,
        workers: list[Plan] | list[list[Source]],
        *,
        concurrency: int = 1,
        threads: int = 1,
        message_limit: int | None = None,
        burst: bool = False,
        banner: str = "",
    ):
        # Plain lists of sources: the command line's --threads and --concurrency for each.
        self.workers = [
            w if isinstance(w, Plan) else Plan(w, "+".join(s.full_name for s in w), threads, concurrency)
            for w in workers
        ]
        self.concurrency = concurrency
        self.threads = threads
        self.message_limit = message_limit
        self.burst = burst
        self.banner = banner
        self.stopping = False
        self.forced = False
        self._dump_asked = False
        self.unreachable = False
        self.slots: list[Slot] = []

    def worker(self, plan: Plan, counter: Counter | None = None, parent: int | None = None) -> Worker:
        return Worker(
            plan.sources, threads=plan.threads, message_limit=self.message_limit, burst=self.burst,
            counter=counter, parent_pid=parent, weights=plan.weights, label=plan.label,
        )

    def run(self) -> int:
        logger.info("runreceiver starting %s pid=%s", self.banner, os.getpid())
        if self.processes == 1:
            worker = self.worker(self.workers[0])
            ops.worker_process_started(Slot(self.workers[0], 0, worker.counter).label)
            worker.install_signal_handlers()
            return worker.run()
        return self.supervise()

    @property
    def processes(self) -> int:
        return sum(w.concurrency for w in self.workers)

    # -- the parent -------------------------------------------------------------------
    def supervise(self) -> int:
        self.slots = [
            # Shared memory, so a restarted child goes on counting where its
            # predecessor stopped (--message-limit counts messages, not lives).
            Slot(plan, i, Counter(multiprocessing.RawValue("q", 0)))
            for plan in self.workers
            for i in range(plan.concurrency)
        ]
        saved = {signum: signal.signal(signum, self._on_signal) for signum in (*STOP_SIGNALS, QUIT_SIGNAL)}
        saved[DUMP_SIGNAL] = signal.signal(DUMP_SIGNAL, self._on_dump)
        try:
            for slot in self.slots:
                self.spawn(slot)
            while True:
                if self._dump_asked:
                    self._dump_asked = False
                    dump_stacks("(supervisor)")
                self.reap()
                now = time.monotonic()
                for slot in self.slots:
                    if slot.restart_at is not None and now >= slot.restart_at and not self.stopping:
                        slot.restart_at = None
                        self.spawn(slot)
                running = [s for s in self.slots if s.pid is not None]
                waiting = [s for s in self.slots if s.restart_at is not None and not self.stopping]
                if not running and not waiting:
                    break
                time.sleep(0.1)
        finally:
            for signum, handler in saved.items():
                signal.signal(signum, handler)
        logger.info("runreceiver stopped pid=%s", os.getpid())
        if self.unreachable:
            return EXIT_UNREACHABLE
        return EXIT_FORCED if self.forced else 0

    def spawn(self, slot: Slot) -> None:
        # A forked child must not inherit the parent's database connections.
        connections.close_all()
        sys.stdout.flush()
        sys.stderr.flush()
        parent = os.getpid()
        signal.pthread_sigmask(signal.SIG_BLOCK, HANDLED_SIGNALS)
        try:
            if self.stopping:  # a stop began: start nothing more
                return
            pid = os.fork()
            if pid == 0:
                self._child(slot, parent)  # never returns
            slot.pid, slot.started = pid, time.monotonic()
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, HANDLED_SIGNALS)
        logger.info("child started queue=%s pid=%s", slot.label, pid)

    def reap(self) -> None:
        """Collect every exited child (ours or orphans handed to us as PID 1)."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            slot = next((s for s in self.slots if s.pid == pid), None)
            if slot is not None:
                ops.worker_process_exited(pid)
                self._exited(slot, status)

    def _exited(self, slot: Slot, status: int) -> None:
        slot.pid = None
        lived = time.monotonic() - slot.started
        code = os.waitstatus_to_exitcode(status)
        # 0: burst or limit done. While we stop, a clean exit is the expected end.
        if code == 0 or (self.stopping and code == EXIT_CHILD_STOPPED):
            slot.done = True
            logger.info("child %s queue=%s", "finished" if code == 0 else "stopped", slot.label)
            return
        if code == EXIT_UNREACHABLE and self.burst:
            # --burst gave up on SQS: restarting would only try again; say so in the exit code.
            slot.done = True
            self.unreachable = True
            logger.error("child gave up, SQS unreachable queue=%s", slot.label)
            return
        why = f"signal {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"
        if self.stopping:
            slot.done = True
            self.forced = True  # a second signal, or a crash: not a clean stop
            logger.warning("child ended while stopping queue=%s %s", slot.label, why)
            return
        if code == EXIT_CHILD_STOPPED:
            why = "a stop signal the supervisor did not send"
        # The child died (or was stopped by someone else): its slot must be served again.
        slot.quick_failures = slot.quick_failures + 1 if lived < HEALTHY_AFTER else 0
        delay = min(RESTART_CAP, RESTART_FIRST * 2**slot.quick_failures)
        slot.restart_at = time.monotonic() + delay
        logger.error("child died queue=%s %s after %.1fs; restarting in %.1fs", slot.label, why, lived, delay)

    def _on_signal(self, signum: int, frame) -> None:
        if self.stopping:
            logger.warning("second signal, killing children and exiting at once")
            for slot in self.slots:
                if slot.pid is not None:
                    _kill(slot.pid, signal.SIGKILL)
            os._exit(128 + signum)
        self.stopping = True
        running = [s for s in self.slots if s.pid is not None]
        again = "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name
        if signum == QUIT_SIGNAL:
            logger.warning(
                "stopping at once on SIGQUIT: %d worker process(es) give the unstarted messages back and "
                "abandon those in hand", len(running),
            )
        else:
            logger.warning(
                "stopping on %s: %d worker process(es) finish the messages in hand and give the others back; "
                "%s again exits at once",
                signal.Signals(signum).name, len(running), again,
            )
        for slot in running:
            _kill(slot.pid, signum)

    def _on_dump(self, signum: int, frame) -> None:
        """SIGUSR1: every child dumps its threads' stacks, and so does this process (in
        its loop: a signal handler must not log)."""
        self._dump_asked = True
        for slot in self.slots:
            if slot.pid is not None:
                _kill(slot.pid, signum)

    # -- the child --------------------------------------------------------------------
    def _child(self, slot: Slot, parent: int) -> None:
        code = 1
        try:
            # Own process group: a terminal's Ctrl-C reaches the parent only, which
            # forwards it once.
            os.setpgid(0, 0)
            _die_with_parent()
            if os.getppid() != parent:  # the parent died before we could ask
                os._exit(EXIT_CHILD_STOPPED)
            worker = self.worker(slot.plan, slot.counter, parent)
            ops.worker_process_started(slot.label)
            worker.install_signal_handlers()  # before the signals are unblocked
            signal.pthread_sigmask(signal.SIG_UNBLOCK, HANDLED_SIGNALS)
            code = worker.run() or (EXIT_CHILD_STOPPED if worker.stopping else 0)
        except BaseException:
            logger.exception("worker crashed queue=%s", slot.label)
        finally:
            logging.shutdown()
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)


def _kill(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


def _die_with_parent() -> None:
    """Ask Linux to send us SIGTERM when the parent dies (no-op elsewhere)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        logger.debug("prctl(PR_SET_PDEATHSIG) unavailable; relying on the parent pid check")
