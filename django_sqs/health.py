"""Liveness of a worker: a status file it keeps up to date, and the verdict on that file.

``HealthReporter`` listens to the worker's signals (``django_sqs.signals``) and keeps, in
memory, when each queue was last polled and which messages are in hand since when. A
daemon thread writes that to a small JSON file once a second (temp file + ``os.replace``,
so a reader never sees half a file): the signal listeners only touch a dict, the file is
written off the hot path, and a file that stops changing means the process is gone.

``verdict(path, max_age=, max_busy=)`` reads it back: healthy when the worker polled within
``max_age`` seconds, or is busy with messages that started less than ``max_busy`` ago.
``queue_polled`` is sent when a receive *returns*, so an idle worker in a 20 s long poll
reports a poll every ~20 s: ``max_age`` must stay above the poll period (default 60 s).

With several worker processes, each writes ``PATH.<slot>`` and the supervisor writes
``PATH`` itself; the verdict on ``PATH`` is the supervisor's freshness and every worker's.

This module needs no Django settings, so the probe can run without setting Django up
(``python -m django_sqs.management.commands.sqs_health PATH``).
"""

from __future__ import annotations

import dataclasses
import glob
import http.server
import json
import os
import sys
import threading
import time
import urllib.parse
from typing import Any

from . import signals

#: Seconds between writes of the status file.
WRITE_INTERVAL = 1.0
#: A file not rewritten for this many write intervals (10 s by default) belongs to a
#: process that is gone, or frozen.
STALE_AFTER_WRITES = 10
#: Defaults of the probe: above the 20 s long poll; a receiver busy longer is stuck.
DEFAULT_MAX_AGE = 60.0
DEFAULT_MAX_BUSY = 600.0


def write_json(path: str, data: dict) -> None:
    """Write ``data`` to ``path`` atomically: a reader sees the old file or the new one."""
    # A name of this process and thread, not tempfile's: the supervisor forks while its own
    # writer thread runs, and a child must not inherit a lock held by that thread.
    tmp = os.path.join(os.path.dirname(os.path.abspath(path)), f".health-{os.getpid()}-{threading.get_ident()}.tmp")
    try:
        with open(tmp, "w") as f:
            json.dump(data, f, separators=(",", ":"))
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


class Writer(threading.Thread):
    """Calls ``state()`` and writes it to ``path`` every ``interval`` seconds until stopped."""

    def __init__(self, path: str, state, interval: float = WRITE_INTERVAL):
        super().__init__(name="django-sqs-health", daemon=True)
        self.path = path
        self.state = state
        self.interval = interval
        self.stopped = threading.Event()

    def write(self) -> None:
        write_json(self.path, {**self.state(), "written": time.time(), "interval": self.interval})

    def run(self) -> None:
        while True:
            try:
                self.write()
            except OSError as exc:  # a full disk must not kill the worker; the file goes stale
                sys.stderr.write(f"django_sqs: cannot write health file {self.path}: {exc}\n")
            if self.stopped.wait(self.interval):
                return

    def stop(self) -> None:
        self.stopped.set()


class HealthReporter:
    """The status of one worker process, fed by the worker's signals."""

    def __init__(self, path: str, label: str = "", interval: float = WRITE_INTERVAL):
        self.path = path
        self.label = label
        self.lock = threading.Lock()
        self.started = time.time()
        self.queues: dict[str, dict[str, Any]] = {}
        self.in_hand: dict[str, tuple[str, float]] = {}  # message id → (queue, started)
        self.stopping: str | None = None
        self.writer = Writer(path, self.state, interval)

    # -- signal listeners: a dict update each, no I/O ----------------------------------
    def on_worker_started(self, queues=(), **kwargs) -> None:
        with self.lock:
            for queue in queues:
                self.queues.setdefault(queue, {"polled": None, "ok": None})

    def on_worker_stopping(self, reason="", **kwargs) -> None:
        with self.lock:
            self.stopping = reason or "stopping"
        self.writer.write()  # the probe should know at once, not a second later

    def on_queue_polled(self, queue, ok=True, **kwargs) -> None:
        with self.lock:
            # A failed receive (SQS unreachable) still shows a poller that is alive: the
            # worker is not wedged, and restarting it would not bring SQS back.
            self.queues[queue] = {"polled": time.time(), "ok": bool(ok)}

    def on_message_received(self, queue, message_id, **kwargs) -> None:
        with self.lock:
            self.in_hand[message_id] = (queue, time.time())

    def on_message_handled(self, message_id, **kwargs) -> None:
        with self.lock:
            self.in_hand.pop(message_id, None)

    _LISTENERS = {
        "worker_started": "on_worker_started",
        "worker_stopping": "on_worker_stopping",
        "queue_polled": "on_queue_polled",
        "message_received": "on_message_received",
        "message_handled": "on_message_handled",
    }

    def state(self) -> dict:
        with self.lock:
            oldest = min(self.in_hand.items(), key=lambda item: item[1][1], default=None)
            return {
                "pid": os.getpid(),
                "label": self.label,
                "started": self.started,
                "stopping": self.stopping,
                "queues": {q: dict(v) for q, v in self.queues.items()},
                "in_hand": len(self.in_hand),
                "busy_since": oldest[1][1] if oldest else None,
                "busy_with": {"queue": oldest[1][0], "message_id": oldest[0]} if oldest else None,
            }

    # -- lifecycle --------------------------------------------------------------------
    def start(self) -> HealthReporter:
        for name, method in self._LISTENERS.items():
            getattr(signals, name).connect(getattr(self, method), weak=False, dispatch_uid=f"django_sqs.health.{name}")
        self.writer.start()
        return self

    def stop(self) -> None:
        for name in self._LISTENERS:
            getattr(signals, name).disconnect(dispatch_uid=f"django_sqs.health.{name}")
        self.writer.stop()


class SupervisorReporter:
    """The supervisor's own file: it is alive and serves ``processes`` worker processes."""

    def __init__(self, path: str, processes: int, interval: float = WRITE_INTERVAL):
        self.path = path
        self.processes = processes
        self.started = time.time()
        self.writer = Writer(path, self.state, interval)

    def state(self) -> dict:
        return {"pid": os.getpid(), "started": self.started, "supervisor": True, "processes": self.processes}

    def start(self) -> SupervisorReporter:
        self.writer.start()
        return self

    def stop(self) -> None:
        self.writer.stop()


# -- several processes: where their files are ------------------------------------------
def worker_path(path: str, label: str) -> str:
    """The file of the worker process serving ``label`` (``queue#slot``), beside ``path``."""
    safe = "".join(c if c.isalnum() or c in "._-" else "-" for c in label)
    return f"{path}.{safe}"


def worker_paths(path: str) -> list[str]:
    return sorted(p for p in glob.glob(glob.escape(path) + ".*") if not os.path.basename(p).startswith(".health-"))


def remove_worker_file(path: str, pid: int) -> None:
    """Forget the file of a worker process that exited (its slot may be restarting)."""
    for candidate in worker_paths(path):
        data = read(candidate)
        if data is not None and data.get("pid") == pid:
            _unlink(candidate)


def remove_all(path: str) -> None:
    """Files left by an earlier run would be judged as this run's."""
    for candidate in (path, *worker_paths(path)):
        _unlink(candidate)


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


# -- the verdict -----------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Verdict:
    healthy: bool
    reason: str


def read(path: str) -> dict | None:
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _stale_after(data: dict) -> float:
    return STALE_AFTER_WRITES * float(data.get("interval") or WRITE_INTERVAL)


def judge(data: dict, *, max_age: float, max_busy: float, now: float) -> Verdict:
    """The verdict on one worker process's status."""
    who = f"worker pid {data.get('pid')}" + (f" ({data['label']})" if data.get("label") else "")
    written = float(data.get("written") or 0)
    if now - written > _stale_after(data):
        return Verdict(False, f"{who}: status not written for {now - written:.0f}s, the worker process is gone")
    if data.get("stopping"):
        return Verdict(False, f"{who}: stopping ({data['stopping']})")
    busy_since = data.get("busy_since")
    if busy_since is not None and now - busy_since > max_busy:
        with_ = data.get("busy_with") or {}
        return Verdict(
            False,
            f"{who}: receiver stuck, busy for {now - busy_since:.0f}s (max-busy {max_busy:g}s) "
            f"queue={with_.get('queue')} id={with_.get('message_id')}",
        )
    polls = [q["polled"] for q in (data.get("queues") or {}).values() if q.get("polled")]
    last_poll = max(polls, default=None)
    if last_poll is not None and now - last_poll <= max_age:
        return Verdict(True, f"{who}: polled {now - last_poll:.0f}s ago, {data.get('in_hand', 0)} in hand")
    if busy_since is not None:
        return Verdict(True, f"{who}: busy for {now - busy_since:.0f}s with {data.get('in_hand', 0)} in hand")
    if last_poll is None and now - float(data.get("started") or 0) <= max_age:
        return Verdict(True, f"{who}: starting")
    since = f"for {now - last_poll:.0f}s" if last_poll is not None else "since it started"
    return Verdict(False, f"{who}: not polling, no poll returned {since} (max-age {max_age:g}s) and nothing in hand")


def verdict(path: str, *, max_age: float = DEFAULT_MAX_AGE, max_busy: float = DEFAULT_MAX_BUSY, now: float | None = None) -> Verdict:
    """The verdict on the status file at ``path`` (and its workers' files, with several)."""
    now = time.time() if now is None else now
    data = read(path)
    if data is None:
        return Verdict(False, f"no readable status file at {path} (is runreceiver running with --health-file?)")
    if not data.get("supervisor"):
        return judge(data, max_age=max_age, max_busy=max_busy, now=now)
    written = float(data.get("written") or 0)
    if now - written > _stale_after(data):
        return Verdict(False, f"supervisor pid {data.get('pid')}: status not written for {now - written:.0f}s, it is gone")
    workers = [d for d in map(read, worker_paths(path)) if d is not None]
    verdicts = [judge(d, max_age=max_age, max_busy=max_busy, now=now) for d in workers]
    bad = [v.reason for v in verdicts if not v.healthy]
    if bad:
        return Verdict(False, "; ".join(bad))
    if not workers and now - float(data.get("started") or 0) > max_age:
        return Verdict(False, f"supervisor pid {data.get('pid')}: no worker process is running")
    return Verdict(True, f"supervisor pid {data.get('pid')}: {len(workers)} of {data.get('processes')} worker processes healthy")


# -- the same verdict over HTTP ---------------------------------------------------------
class VerdictServer(http.server.ThreadingHTTPServer):
    """``GET /`` (any path): 200 and the reason when healthy, 503 and the reason when not.
    ``?max_age=S&max_busy=S`` override the defaults, as the probe's options do."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], status_path: str):
        self.status_path = status_path
        super().__init__(address, _VerdictHandler)

    def start(self) -> VerdictServer:
        threading.Thread(target=self.serve_forever, name="django-sqs-health-http", daemon=True).start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


class _VerdictHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        try:
            limits = {key: float(query[key][0]) for key in ("max_age", "max_busy") if key in query}
        except ValueError:
            self._answer(400, "max_age and max_busy must be numbers of seconds")
            return
        result = verdict(self.server.status_path, **limits)
        self._answer(200 if result.healthy else 503, ("healthy: " if result.healthy else "unhealthy: ") + result.reason)

    def _answer(self, status: int, text: str) -> None:
        body = (text + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # probes every few seconds: no access log
        pass
