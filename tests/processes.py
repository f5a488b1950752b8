"""Helpers for tests that run ``manage.py runreceiver`` in other processes against the
local SQS server: the subprocess, its record file and log, and a TCP proxy that can
cut the worker off from the server."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def wait_until(predicate, timeout: float = 30.0, interval: float = 0.05, message: str = "condition", log=None):
    """Poll ``predicate`` until it returns something true; fail with ``log()`` shown."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    shown = f"; log:\n{log()}" if log else ""
    raise AssertionError(f"timed out after {timeout}s waiting for {message}{shown}")


def process_state(pid: int) -> str | None:
    """'R', 'S', 'Z', … from /proc, or None when the process is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0]
    except FileNotFoundError:
        return None


def alive(pid: int) -> bool:
    return process_state(pid) not in (None, "Z", "X")


class ReceiverProcess:
    """``python -m django runreceiver ARGS`` with the test settings, in its own process."""

    def __init__(
        self, tmp_path: Path, endpoint: str, *args: str, env: dict | None = None, start_new_session: bool = False
    ):
        """``start_new_session``: the worker leads a process group of its own, so a test can
        signal the whole group at once (``killpg``), as systemd's KillMode=control-group does."""
        self.record_path = tmp_path / f"records-{time.monotonic_ns()}.jsonl"
        self.log_path = tmp_path / f"log-{time.monotonic_ns()}.txt"
        self.args = args
        self.start_new_session = start_new_session
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "DJANGO_SQS_TEST_ENDPOINT": endpoint,
            "DJANGO_SQS_TEST_RECORD": str(self.record_path),
            "DJANGO_SQS_TEST_POLL": "1",
            "PYTHONPATH": str(ROOT),
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
        }
        self.process: subprocess.Popen | None = None

    def start(self) -> ReceiverProcess:
        self._log = open(self.log_path, "w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "django", "runreceiver", *self.args],
            cwd=ROOT, env=self.env, stdout=self._log, stderr=subprocess.STDOUT,
            start_new_session=self.start_new_session,
        )
        return self

    @property
    def pid(self) -> int:
        return self.process.pid

    def records(self, **match) -> list[dict]:
        if not self.record_path.exists():
            return []
        lines = self.record_path.read_text().splitlines()
        entries = [json.loads(line) for line in lines if line.strip()]
        return [e for e in entries if all(e.get(k) == v for k, v in match.items())]

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""

    def wait_for(self, predicate, timeout: float = 30.0, message: str = "condition"):
        return wait_until(predicate, timeout, message=message, log=self.log)

    def signal(self, signum: int = signal.SIGTERM) -> None:
        self.process.send_signal(signum)

    def killpg(self, signum: int | None = None, spread: float = 0.05) -> None:
        """``signum`` to every process of the worker, as systemd's KillMode=control-group
        does: the children (which lead process groups of their own) first, then, ``spread``
        seconds later, the worker's own group (``start_new_session``). The spread keeps two
        deliveries to a child from merging into one, as they may in production."""
        signum = signal.SIGTERM if signum is None else signum
        for pid in self.child_pids():
            try:
                if os.getpgid(pid) != self.pid:
                    os.kill(pid, signum)
            except ProcessLookupError:
                pass
        time.sleep(spread)
        os.killpg(self.pid, signum)

    def wait(self, timeout: float = 30) -> int:
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"runreceiver did not exit within {timeout}s; log:\n{self.log()}") from None

    def child_pids(self) -> list[int]:
        out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(self.pid)], capture_output=True, text=True).stdout
        return [int(p) for p in out.split() if alive(int(p))]

    def stop(self) -> None:
        """Make sure nothing of it is left running (children included)."""
        if self.process is None:
            return
        children = self.child_pids() if self.process.poll() is None else []
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        for pid in children:
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        self._log.close()

    def __enter__(self) -> ReceiverProcess:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class TCPProxy:
    """Forwards 127.0.0.1:port to a target; ``cut()`` drops every connection and refuses
    new ones until ``restore()`` listens on the same port again."""

    def __init__(self, target_port: int):
        self.target_port = target_port
        self.port = 0
        #: Seconds each answer from the server is held back (a slow network), when set.
        self.delay = 0.0
        #: Set by ``hang()``: connections are accepted and requests read, nothing answered.
        self.hanging = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self.restore()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def restore(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(50)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            if self.hanging:
                with self._lock:
                    self._sockets.append(client)  # held open, never answered
                threading.Thread(target=self._swallow, args=(client,), daemon=True).start()
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets += [client, upstream]
            for a, b, slow in ((client, upstream, False), (upstream, client, True)):
                threading.Thread(target=self._pipe, args=(a, b, slow), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket, slow: bool) -> None:
        try:
            while data := src.recv(65536):
                if self.hanging:
                    continue  # read, never delivered: no answer ever comes back
                if slow and self.delay:
                    time.sleep(self.delay)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def hang(self) -> None:
        """From now on the endpoint accepts connections and requests and never answers,
        as a server stopped with SIGSTOP (or a black-holed load balancer) does."""
        self.hanging = True

    @staticmethod
    def _swallow(sock: socket.socket) -> None:
        try:
            while sock.recv(65536):
                pass
        except OSError:
            pass

    def cut(self) -> None:
        if self._listener:
            # shutdown() wakes the accept() blocked on it; close() alone lets it take
            # one more connection.
            try:
                self._listener.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._listener.close()
            self._listener = None
        with self._lock:
            for s in self._sockets:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                    s.close()
                except OSError:
                    pass
            self._sockets.clear()

    def close(self) -> None:
        self.cut()


def fork_worker(label: str, work) -> int:
    """A forked stand-in for a worker process: ``ops.worker_process_started(label)`` as the
    supervisor's child does, then ``work()``, then it waits to be killed; returns its pid."""
    from django_sqs import ops

    pid = os.fork()
    if pid == 0:
        try:
            ops.worker_process_started(label)
            work()
            time.sleep(600)
        finally:
            os._exit(0)
    return pid
