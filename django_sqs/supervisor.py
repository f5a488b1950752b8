"""``Supervisor``: one child process per queue and concurrency slot, kept alive.

The parent does no SQS work. It closes its database connections and forks the
children; it restarts a child that dies (with backoff), reaps every child (also
orphans, so it is safe as PID 1 in a container), forwards SIGTERM/SIGINT to the
children and waits for them. Children exit when the parent dies, even by SIGKILL
(Linux parent-death signal, plus a check of the parent pid in the receive loop).

With one queue and concurrency 1 there is no child: the worker runs in this process.
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

from .conf import settings
from .registered_queue import RegisteredQueue
from .worker import Counter, Worker

logger = logging.getLogger("django_sqs.worker")

#: A child that lived shorter than this before dying counts as a quick failure.
HEALTHY_AFTER = 10.0
RESTART_FIRST = 0.5
RESTART_CAP = 30.0
#: Child exit code for "stopped by a signal" (told apart from "finished": 0).
EXIT_CHILD_STOPPED = 3
PR_SET_PDEATHSIG = 1


@dataclasses.dataclass
class Slot:
    """One child's place: which queue it serves, and its history."""

    rq: RegisteredQueue
    index: int
    suffix: str | None
    counter: Counter
    pid: int | None = None
    started: float = 0.0
    quick_failures: int = 0
    restart_at: float | None = None
    done: bool = False

    @property
    def label(self) -> str:
        return f"{self.rq.full_name(self.suffix)}#{self.index}"


class Supervisor:
    def __init__(
        self,
        queues: list[RegisteredQueue],
        *,
        suffix: str | None = None,
        concurrency: int = 1,
        message_limit: int | None = None,
        burst: bool = False,
    ):
        self.queues = queues
        self.suffix = suffix
        self.concurrency = concurrency
        self.message_limit = message_limit
        self.burst = burst
        self.stopping = False
        self.slots: list[Slot] = []

    def run(self) -> int:
        names = ", ".join(rq.full_name(self.suffix) for rq in self.queues)
        logger.info(
            "runreceiver starting queues=%s concurrency=%d poll_period=%ss pid=%s",
            names, self.concurrency, settings.SQS_POLL_PERIOD, os.getpid(),
        )
        if len(self.queues) == 1 and self.concurrency == 1:
            worker = Worker(self.queues[0], suffix=self.suffix, message_limit=self.message_limit, burst=self.burst)
            worker.install_signal_handlers()
            return worker.run()
        return self.supervise()

    # -- the parent -------------------------------------------------------------------
    def supervise(self) -> int:
        self.slots = [
            # Shared memory, so a restarted child goes on counting where its
            # predecessor stopped (--message-limit counts messages, not lives).
            Slot(rq, i, self.suffix, Counter(multiprocessing.RawValue("q", 0)))
            for rq in self.queues
            for i in range(self.concurrency)
        ]
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._on_signal)
        for slot in self.slots:
            self.spawn(slot)
        while True:
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
        logger.info("runreceiver stopped pid=%s", os.getpid())
        return 0

    def spawn(self, slot: Slot) -> None:
        # A forked child must not inherit the parent's database connections.
        connections.close_all()
        sys.stdout.flush()
        sys.stderr.flush()
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:
            self._child(slot, parent)  # never returns
        slot.pid, slot.started = pid, time.monotonic()
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
                self._exited(slot, status)

    def _exited(self, slot: Slot, status: int) -> None:
        slot.pid = None
        lived = time.monotonic() - slot.started
        code = os.waitstatus_to_exitcode(status)
        # 0: burst or limit done. While we stop, any exit is final. Otherwise the child
        # died (or was stopped by someone else): its slot must be served again.
        if code == 0 or self.stopping:
            slot.done = True
            logger.info("child exited queue=%s code=%s", slot.label, code)
            return
        why = f"signal {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"
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
        logger.info("stopping signal=%s; waiting for children", signal.Signals(signum).name)
        for slot in self.slots:
            if slot.pid is not None:
                _kill(slot.pid, signum)

    # -- the child --------------------------------------------------------------------
    def _child(self, slot: Slot, parent: int) -> None:
        code = 1
        try:
            # Own process group: a terminal's Ctrl-C reaches the parent only, which
            # forwards it once (a child seeing two signals would exit at once).
            os.setpgid(0, 0)
            _die_with_parent()
            if os.getppid() != parent:  # the parent died before we could ask
                os._exit(EXIT_CHILD_STOPPED)
            for signum in (signal.SIGTERM, signal.SIGINT):
                signal.signal(signum, signal.SIG_DFL)
            worker = Worker(
                slot.rq,
                suffix=slot.suffix,
                message_limit=self.message_limit,
                burst=self.burst,
                counter=slot.counter,
                parent_pid=parent,
            )
            worker.install_signal_handlers()
            worker.run()
            code = EXIT_CHILD_STOPPED if worker.stopping else 0
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
