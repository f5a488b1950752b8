"""Health file, health port and metrics port of ``runreceiver``, wired around its processes.

The worker knows nothing of these: they listen to its signals. runreceiver and its
supervisor call four functions, in this order::

    ops.configure(health_file=..., health_port=..., metrics_port=..., processes=N)
        # once, in the runreceiver process, before any fork: checks the options, removes
        # files of an earlier run, starts what belongs to the parent (the supervisor's
        # status file, the health and metrics HTTP servers)
    ops.worker_process_started(label)
        # in each worker process (a forked child, or the runreceiver process itself with
        # one worker) before its worker runs: connects the health reporter and the metrics
    ops.worker_process_exited(pid)
        # in the supervisor, after reaping a child: forgets that process's file and gauges
    ops.shutdown()
        # at the end, in the runreceiver process

With one process, the health file is that worker's status; with several, each worker
writes ``PATH.<queue#slot>`` and the supervisor writes ``PATH`` (see ``health``). Metrics
always go through prometheus_client's multiprocess files and are served, summed, by the
runreceiver process (see ``metrics``).
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import shutil
import tempfile
from typing import Any

from django.core.management.base import CommandError

from . import health, metrics

logger = logging.getLogger("django_sqs.worker")

DEFAULT_HOST = "127.0.0.1"
Address = tuple[str, int]


def parse_address(text: str | int | tuple) -> Address:
    """``PORT`` or ``HOST:PORT`` (host default 127.0.0.1, port 0 = any free port)."""
    if isinstance(text, tuple):
        host, port = text
    else:
        host, _, port = str(text).rpartition(":")
    host = host.strip("[]") or DEFAULT_HOST
    try:
        port = int(port)
    except ValueError:
        raise ValueError(f"{text!r} is not PORT or HOST:PORT") from None
    if not 0 <= port <= 65535:
        raise ValueError(f"port {port} is not between 0 and 65535")
    return host, port


def address(text: str) -> Address:
    """argparse ``type=`` for ``--health-port``/``--metrics-port``."""
    try:
        return parse_address(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """runreceiver's options for operations."""
    parser.add_argument(
        "--health-file", metavar="PATH",
        help="keep a status file at PATH for `manage.py sqs_health PATH` (liveness probes)",
    )
    parser.add_argument(
        "--health-port", type=address, metavar="[HOST:]PORT",
        help="answer the sqs_health verdict over HTTP (200 healthy, 503 not); host default 127.0.0.1",
    )
    parser.add_argument(
        "--metrics-port", type=address, metavar="[HOST:]PORT",
        help="serve Prometheus metrics of every worker process at /metrics; host default 127.0.0.1 "
        "(needs the 'metrics' extra: prometheus_client)",
    )


@dataclasses.dataclass
class _State:
    pid: int = 0  # the runreceiver process
    health_file: str | None = None
    processes: int = 1
    metrics_dir: str | None = None
    owned_dirs: list[str] = dataclasses.field(default_factory=list)
    previous_metrics_env: str | None = None
    servers: list[Any] = dataclasses.field(default_factory=list)
    started: list[Any] = dataclasses.field(default_factory=list)  # things with stop(), this process's
    urls: dict[str, str] = dataclasses.field(default_factory=dict)


_state = _State()


def configure(*, health_file=None, health_port=None, metrics_port=None, processes: int = 1) -> dict[str, str]:
    """Once, in the runreceiver process, before any fork. Returns the URLs served
    (``{"health": ..., "metrics": ...}``), with the real port when 0 was asked for."""
    global _state
    shutdown()
    if not isinstance(processes, int) or processes < 1:
        raise CommandError(f"processes must be a whole number of at least 1, not {processes!r}")
    try:
        health_address = parse_address(health_port) if health_port is not None else None
        metrics_address = parse_address(metrics_port) if metrics_port is not None else None
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    if metrics_address and not metrics.available():
        raise CommandError(metrics.MISSING)
    state = _State(pid=os.getpid(), processes=processes)
    if health_address and not health_file:  # the HTTP verdict needs a file to judge
        state.owned_dirs.append(tempfile.mkdtemp(prefix="django-sqs-health-"))
        health_file = os.path.join(state.owned_dirs[-1], "health.json")
    if health_file:
        health_file = os.path.abspath(health_file)
        if not os.path.isdir(os.path.dirname(health_file)):
            raise CommandError(f"--health-file {health_file}: the directory does not exist")
        health.remove_all(health_file)
        state.health_file = health_file
    _state = state
    try:
        if health_file and processes > 1:
            state.started.append(health.SupervisorReporter(health_file, processes).start())
        if health_address:
            server = health.VerdictServer(health_address, health_file).start()
            state.servers.append(server)
            state.urls["health"] = _url(server.server_address, "/")
        if metrics_address:
            state.metrics_dir = os.environ.get(metrics.ENV) or tempfile.mkdtemp(prefix="django-sqs-metrics-")
            if state.metrics_dir != os.environ.get(metrics.ENV):
                state.owned_dirs.append(state.metrics_dir)
            state.previous_metrics_env = metrics.use_directory(state.metrics_dir)
            server = metrics.serve(*metrics_address, state.metrics_dir)
            state.servers.append(server)
            state.urls["metrics"] = _url(server.server_address, "/metrics")
    except OSError as exc:  # a port in use, a file we cannot write
        shutdown()
        raise CommandError(f"cannot start operations endpoints: {exc}") from exc
    for name, url in state.urls.items():
        logger.info("%s endpoint url=%s", name, url)
    return dict(state.urls)


def _url(server_address: tuple, path: str) -> str:
    host, port = server_address[:2]
    return f"http://{host}:{port}{path}"


def worker_process_started(label: str) -> None:
    """In each worker process, before its worker runs; ``label`` names its slot
    (``queue#index``; stable across restarts)."""
    state = _state
    if state.pid and state.pid != os.getpid():
        # A forked child: the parent's servers and writers are the parent's. Their threads
        # did not come along; close the listening sockets it inherited and let them be.
        for server in state.servers:
            server.socket.close()
        state.servers, state.started, state.owned_dirs = [], [], []
        state.pid = os.getpid()
    if state.health_file:
        path = state.health_file if state.processes == 1 else health.worker_path(state.health_file, label)
        state.started.append(health.HealthReporter(path, label).start())
    if state.metrics_dir:
        state.started.append(metrics.ProcessMetrics().start())


def worker_process_exited(pid: int) -> None:
    """In the supervisor, after reaping worker process ``pid``."""
    if _state.health_file and _state.processes > 1:
        health.remove_worker_file(_state.health_file, pid)
    if _state.metrics_dir:
        metrics.mark_process_dead(pid, _state.metrics_dir)


def shutdown() -> None:
    """At the end, in the runreceiver process: stops what this process started."""
    global _state
    state, _state = _state, _State()
    for item in reversed(state.started):
        item.stop()
    for server in state.servers:
        server.shutdown()
        server.server_close()
    if state.metrics_dir:
        metrics.restore_directory(state.previous_metrics_env)
    for directory in state.owned_dirs:
        shutil.rmtree(directory, ignore_errors=True)
