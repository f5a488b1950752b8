"""Mode B's firing loop, and the child process ``runreceiver --schedules`` runs it in.

Each supervisor runs one ``Firer``. It wakes at the next tick of any schedule, claims each
due tick (``claims.claim``) and sends the ones it claimed; every ``lease / 2`` it takes
over the claims whose claimant died before sending (``claims.take_over``). Nothing is
coordinated between supervisors but the claims table, so any number of them, on any
number of hosts, send each tick once.

A failure (the database or SQS down) is logged and the loop goes on: a tick whose claim
failed is tried again on the next round (the cursor only moves past ticks dealt with); a
tick claimed and not sent stays unsent and is recovered after the lease.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import select
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable

from django.db import close_old_connections, connections

from . import claims, config
from .cron import due_ticks, fire_times
from .declarations import all_schedules
from .firing import send_tick
from .schedule import Schedule

logger = logging.getLogger("django_sqs.periodic")

#: Test-only fault injection: "kill-after-claim" makes the firing process SIGKILL itself
#: right after its first claim, before the send (tests/test_periodic_processes.py).
FAULT_ENV = "DJANGO_SQS_PERIODIC_FAULT"
#: Longest sleep between rounds: a round with nothing due makes no query, and the parent
#: pid is checked once a round (besides the parent-death signal).
MAX_SLEEP = 5.0
#: After a round that failed, wait this long before the next one.
ERROR_PAUSE = 1.0
PRUNE_EVERY = dt.timedelta(minutes=10)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class Firer:
    def __init__(
        self,
        schedules: list[Schedule] | None = None,
        *,
        lease: dt.timedelta | None = None,
        claimant: str | None = None,
        clock: Callable[[], dt.datetime] = utcnow,
        parent_pid: int | None = None,
    ):
        self.schedules = all_schedules() if schedules is None else schedules
        self.lease = lease or config.lease()
        self.claimant = claimant or f"{socket.gethostname()}:{os.getpid()}"
        self.clock = clock
        #: Stop when this process is no longer our parent (it died).
        self.parent_pid = parent_pid
        self.cursors: dict[str, dt.datetime] = {}
        self.next_scan = self.next_prune = clock()
        self.stopping = False
        # run() sleeps polling a pipe that request_stop() writes to. A signal handler may
        # call it: unlike Event.set(), it takes no lock that the interrupted sleep may hold
        # (an Event set from a handler left the loop asleep until its timeout).
        self._wake_w: int | None = None

    def request_stop(self) -> None:
        """Stop after the tick in hand; safe from a signal handler and from another thread."""
        self.stopping = True
        if self._wake_w is not None:
            try:
                os.write(self._wake_w, b"\0")
            except OSError:  # full (already woken) or closed (already stopped)
                pass

    # -- the loop ---------------------------------------------------------------------
    def run(self) -> None:
        logger.info(
            "firing schedules=%s lease=%ss claimant=%s",
            ",".join(s.name for s in self.schedules) or "none", int(self.lease.total_seconds()), self.claimant,
        )
        wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)
        sleeper = select.poll()
        sleeper.register(wake_r, select.POLLIN)
        while not self.stopping:
            if self.parent_pid is not None and os.getppid() != self.parent_pid:
                logger.warning("runreceiver pid=%s is gone; firing stops", self.parent_pid)
                break
            try:
                close_old_connections()
                self.round()
                pause = self.seconds_to_next()
            except Exception:
                logger.exception("schedules round failed; trying again in %ss", ERROR_PAUSE)
                pause = ERROR_PAUSE
            if not self.stopping:
                sleeper.poll(pause * 1000)
        connections.close_all()
        wake_w, self._wake_w = self._wake_w, None
        os.close(wake_r)
        os.close(wake_w)
        logger.info("firing stopped claimant=%s", self.claimant)

    def round(self) -> None:
        """One pass: fire what is due, then (when its time comes) recover and prune."""
        now = self.clock()
        for schedule in self.schedules:
            cursor = self.cursor(schedule, now)
            for tick in due_ticks(schedule, cursor, now):
                self.fire(schedule, tick)
                self.cursors[schedule.name] = tick
            self.cursors[schedule.name] = max(self.cursors[schedule.name], now)
        if now >= self.next_scan:
            self.next_scan = now + self.lease / 2
            self.recover()
        if now >= self.next_prune:
            self.next_prune = now + PRUNE_EVERY
            for schedule in self.schedules:
                claims.prune(schedule.name, now - config.keep())

    def cursor(self, schedule: Schedule, now: dt.datetime) -> dt.datetime:
        """Every tick up to the cursor was dealt with. At start: the schedule's last
        claimed tick (so downtime is caught up as its policy says), or now for a schedule
        never fired."""
        if schedule.name not in self.cursors:
            self.cursors[schedule.name] = claims.last_tick(schedule.name) or now
        return self.cursors[schedule.name]

    def seconds_to_next(self) -> float:
        now = self.clock()
        wake = self.next_scan
        for schedule in self.schedules:
            wake = min(wake, next(fire_times(schedule, self.cursors.get(schedule.name, now))))
        return min(MAX_SLEEP, max(0.0, (wake - now).total_seconds()))

    # -- one tick ---------------------------------------------------------------------
    def fire(self, schedule: Schedule, tick: dt.datetime) -> None:
        row = claims.claim(schedule.name, tick, self.claimant)
        if row is None:
            return  # another supervisor claimed it
        if os.environ.get(FAULT_ENV) == "kill-after-claim":
            logger.warning("fault injection: killed after claiming schedule=%s tick=%s", schedule.name, tick.isoformat())
            logging.shutdown()
            os.kill(os.getpid(), signal.SIGKILL)
        self.send(schedule, row)

    def send(self, schedule: Schedule, row) -> None:
        try:
            sent_id = send_tick(schedule, row.tick)
        except Exception as exc:
            logger.exception("schedule tick not sent schedule=%s tick=%s; another try after the lease", schedule.name, row.tick.isoformat())
            claims.mark_failed(row, f"{type(exc).__name__}: {exc}")
            return
        claims.mark_sent(row, sent_id)
        logger.info("schedule tick sent schedule=%s tick=%s id=%s", schedule.name, row.tick.isoformat(), sent_id)

    def recover(self) -> None:
        by_name = {s.name: s for s in self.schedules}
        for row in claims.expired(self.lease):
            schedule = by_name.get(row.schedule)
            if schedule is None or not claims.take_over(row, self.claimant):
                continue  # a schedule this process does not know, or another took it
            logger.warning(
                "schedule tick recovered schedule=%s tick=%s from claimant=%s (unsent after the lease)",
                row.schedule, row.tick.isoformat(), row.claimed_by,
            )
            self.send(schedule, row)


# -- the child process of runreceiver --schedules -----------------------------------------
class FiringProcess:
    """The firing loop in a child process of ``runreceiver`` (forked before any worker,
    so no thread is copied). It ends on SIGTERM/SIGINT from ``stop()``, and with the
    parent if the parent dies (Linux parent-death signal). If it dies otherwise (killed,
    out of memory), a watcher thread logs it and starts another, with backoff: the
    schedules never stop silently while runreceiver runs."""

    #: Watcher period, and the restart backoff (doubling while the process keeps dying young).
    WATCH_EVERY = 1.0
    RESTART_FIRST = 1.0
    RESTART_CAP = 30.0
    HEALTHY_AFTER = 10.0

    def __init__(self):
        self.pid: int | None = None
        self.started = 0.0
        self.stopping = threading.Event()
        self.restarts = 0

    def start(self) -> FiringProcess:
        self._fork()
        threading.Thread(target=self._watch, name="django_sqs-schedules-watch", daemon=True).start()
        return self

    def _fork(self) -> None:
        connections.close_all()  # a forked child must not share the parent's connections
        sys.stdout.flush()
        sys.stderr.flush()
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:
            self._child(parent)
        self.pid, self.started = pid, time.monotonic()
        logger.info("schedules firing process started pid=%s", pid)

    def _watch(self) -> None:
        quick = 0
        while not self.stopping.wait(self.WATCH_EVERY):
            why = self._ended()
            if why is None or self.stopping.is_set():
                continue
            lived = time.monotonic() - self.started
            quick = quick + 1 if lived < self.HEALTHY_AFTER else 0
            delay = min(self.RESTART_CAP, self.RESTART_FIRST * 2 ** max(0, quick - 1))
            logger.error("schedules firing process died pid=%s %s after %.1fs; restarting in %.1fs", self.pid, why, lived, delay)
            if self.stopping.wait(delay):
                return
            self.restarts += 1
            self._fork()

    def _ended(self) -> str | None:
        """Why the child ended, or None while it runs."""
        try:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:
            return "(reaped by the supervisor)"
        if pid == 0:
            return None
        code = os.waitstatus_to_exitcode(status)
        return f"signal {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"

    def _child(self, parent: int) -> None:
        from ..worker.supervisor import _die_with_parent

        code = 1
        try:
            os.setpgid(0, 0)  # a terminal's Ctrl-C reaches runreceiver, which stops us
            _die_with_parent()
            firer = Firer(parent_pid=parent)
            for signum in (signal.SIGTERM, signal.SIGINT):
                signal.signal(signum, lambda *_: firer.request_stop())
            firer.run()
            code = 0
        except BaseException:
            logger.exception("schedules firing process crashed")
        finally:
            logging.shutdown()
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)

    def stop(self, timeout: float = 10.0) -> None:
        self.stopping.set()
        if self.pid is None:
            return
        try:
            os.kill(self.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                pid, _ = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                return  # reaped already (the supervisor reaps every child)
            if pid:
                return
            time.sleep(0.05)
        os.kill(self.pid, signal.SIGKILL)
