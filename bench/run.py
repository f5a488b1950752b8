"""django_sqs benchmarks: the figures of SPEC sections 9 and 10, each beside a baseline.

    .venv/bin/python bench/run.py            # full run (~18 minutes on 2 cores)
    .venv/bin/python bench/run.py --quick    # smoke run (~45 s): small backlogs, one run, no peers
    .venv/bin/python bench/run.py --table bench/results/latest.json   # as in bench/RESULTS.md
    .venv/bin/python bench/run.py --periodic # periodic work's cost and punctuality (bench/periodic.py)

Installs nothing: it needs the ``bench`` extra (``pip install -e '.[bench]'``). Everything
runs on this machine against one local SQS server (moto, ``bench/server.py``, with moto's
queue-depth scans patched out in that process only). Each case is measured for django_sqs
and for its baseline in the same run: the hand-written loop (``bench/loop.py``), or for
the options of the second-generation worker django_sqs in its plainest setting
(``--threads 1``, one queue without ``--priority``); several runs with the order
alternated; medians, the spread (min–max) and the ratio paired run by run are printed,
and the results are written as JSON to ``bench/results/``.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime
import json
import math
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# AWS isolated before boto3 is imported anywhere: fake credentials, no config files.
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_CONFIG_FILE": "/nonexistent/aws-config",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
}
os.environ.update(AWS_ENV)
for _name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
    os.environ.pop(_name, None)
os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"

try:
    import psutil
except ImportError:  # pragma: no cover - told to the user below
    psutil = None

import boto3  # noqa: E402

from bench import many_queues  # noqa: E402
from bench.queues import PRIORITY_IDLE, PRIORITY_LATENCY, PRIORITY_ORDER  # noqa: E402
from bench.server import PATCH_NOTE, BenchServer  # noqa: E402

RESULTS = ROOT / "bench" / "results"
PREFIX = "bench__"  # bench.settings.SQS_QUEUE_PREFIX + "__"
LOOP = str(ROOT / "bench" / "loop.py")
#: Who a figure is measured for: django_sqs, its baseline in the same run (the row says
#: which: the hand-written loop, or django_sqs in its plainest setting), a peer.
DS, BASE, PEER = "django_sqs", "baseline", "peer"
PRIO = "priority"  # a django_sqs worker with --priority, while it is measured
#: Peers, when installed (the bench extra): the worker command line for a queue.
PEERS = {
    "celery": lambda queue: [
        "-m", "celery", "-A", "bench.peer_celery", "worker", "-P", "solo", "-c", "1", "-Q", queue,
        "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "WARNING",
    ],
    "pyqs": lambda queue: [
        "-c", "import sys; from pyqs.main import main; sys.argv[0] = 'pyqs'; main()",
        queue, "--simple-worker", "--concurrency", "1", "--batchsize", "10", "--loglevel", "WARNING",
    ],
    # A Django tasks backend on SQS (Django 6, Python 3.12+): the tasks figures' peer.
    # --max-messages 10: its best (the default receives one message per request).
    "django_tasks_sqs": lambda queue: [
        "-m", "django", "sqs_worker", "--backend", "peer", "--queue", "noop", "--max-messages", "10",
    ],
}


@dataclasses.dataclass
class Config:
    backlog: int = 2000
    runs: int = 5
    send_single: int = 300
    latency_samples: int = 50
    busy_backlog: int = 200
    slow_backlog: int = 100  # the threads drain: this many per thread (50 ms each)
    order_backlog: int = 60  # the priority order: per queue, and once more to the top queue
    order_threads: int = 4
    fifo_backlog: int = 200  # the FIFO cases: one group's messages, as a backlog
    fifo_trickle: int = 100  # and sent one at a time
    idle_windows: int = 3  # at least; the idle workers are counted for the whole run
    idle_window: float = 60.0
    loop_idle_sigterm: bool = True
    peer_runs: int = 3
    many_backlog: int = 500  # ten queues × this, one weighted worker against ten forked ones
    quick: bool = False

    @classmethod
    def quick_config(cls) -> Config:
        return cls(
            backlog=200, runs=1, send_single=30, latency_samples=10, busy_backlog=60,
            slow_backlog=20, order_backlog=20, fifo_backlog=50, fifo_trickle=30,
            idle_windows=1, idle_window=5.0, loop_idle_sigterm=False, peer_runs=0, many_backlog=50, quick=True,
        )


# -- small helpers --------------------------------------------------------------------
def log(text: str) -> None:
    print(text, flush=True)


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def percentile(values, p):
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def wait_for(predicate, timeout=60.0, interval=0.02, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise RuntimeError(f"timed out after {timeout}s waiting for {what}")


def tree(pid):
    """The process and its descendants (psutil)."""
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def cpu_seconds(pid) -> float:
    total = 0.0
    for proc in tree(pid):
        with contextlib.suppress(psutil.NoSuchProcess):
            times = proc.cpu_times()
            # children_*: its children that exited and were waited for (PyQS's, say).
            total += times.user + times.system + times.children_user + times.children_system
    return total


def memory(pid) -> dict:
    """Peak RSS (VmHWM), RSS, PSS and USS of one process, in MB."""
    result = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmHWM", "VmRSS"):
                result[{"VmHWM": "peak_rss", "VmRSS": "rss"}[key]] = int(value.split()[0]) / 1024
    with contextlib.suppress(psutil.AccessDenied, AttributeError):
        full = psutil.Process(pid).memory_full_info()
        result["pss"] = getattr(full, "pss", 0) / 2**20 or None
        result["uss"] = full.uss / 2**20
    return result


class Proc:
    """A process this run started, with its log; stopped by pid, descendants included."""

    started: list[Proc] = []

    def __init__(self, args, env, log_path: Path):
        self.args = args
        self.log_path = log_path
        self._log = open(log_path, "w")
        self.popen = subprocess.Popen(args, cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT)
        self.pid = self.popen.pid
        Proc.started.append(self)

    def signal(self, signum=signal.SIGTERM) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.popen.send_signal(signum)

    def wait(self, timeout=None):
        return self.popen.wait(timeout)

    def kill(self) -> None:
        """SIGKILL it and whatever it started (found before it dies)."""
        if self.popen.poll() is None:
            for proc in reversed(tree(self.pid)):
                with contextlib.suppress(psutil.NoSuchProcess):
                    proc.kill()
            self.popen.wait(10)
        self._log.close()

    def stop(self, timeout=15.0) -> float:
        """SIGTERM; returns seconds to exit (SIGKILL after ``timeout``)."""
        started = time.monotonic()
        self.signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
        elapsed = time.monotonic() - started
        self.kill()
        return elapsed

    def log_text(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""


# -- the bench --------------------------------------------------------------------------
class Bench:
    def __init__(self, config: Config, server: BenchServer, workdir: Path):
        self.cfg = config
        self.server = server
        self.workdir = workdir
        self.client = boto3.session.Session().client("sqs", endpoint_url=server.url, region_name="us-east-1")
        self.urls: dict[str, str] = {}
        self.env = {
            **os.environ,
            **AWS_ENV,
            "DJANGO_SETTINGS_MODULE": "bench.settings",
            "PYTHONPATH": str(ROOT),
            "PYTHONUNBUFFERED": "1",
            "BENCH_SQS_ENDPOINT": server.url,
            "BENCH_POLL_PERIOD": "20",
        }
        self.results: dict = {}
        self._seq = 0
        self._queues = 0
        # This process sends through django_sqs too (the send case), with the same settings.
        os.environ["BENCH_SQS_ENDPOINT"] = server.url
        import logging

        import django

        django.setup()
        logging.getLogger("django_sqs").setLevel(logging.WARNING)  # "created queue=…"

    # SQS and the server
    def url(self, full_name: str) -> str:
        if full_name not in self.urls:
            self.urls[full_name] = self.client.create_queue(QueueName=full_name)["QueueUrl"]
        return self.urls[full_name]

    def fill(self, full_name: str, count: int) -> None:
        url = self.url(full_name)
        for start in range(0, count, 10):
            entries = [{"Id": str(i), "MessageBody": f"message {start + i}"} for i in range(min(10, count - start))]
            self.client.send_message_batch(QueueUrl=url, Entries=entries)

    def counts(self, full_name: str, stats=None) -> dict:
        stats = stats or self.server.stats()
        return dict(stats["counts"].get(full_name, {}))

    @staticmethod
    def diff(after: dict, before: dict) -> dict:
        return {k: after.get(k, 0) - before.get(k, 0) for k in after if after.get(k, 0) - before.get(k, 0)}

    def wait_receives(self, full_name: str, before: dict, n: int, proc_list, timeout=60.0) -> None:
        def ready():
            for proc in proc_list:
                if proc.popen.poll() is not None:
                    raise RuntimeError(f"{proc.args} exited early; log:\n{proc.log_text()[-3000:]}")
            return self.counts(full_name).get("ReceiveMessage", 0) - before.get("ReceiveMessage", 0) >= n

        wait_for(ready, timeout, what=f"{n} ReceiveMessage on {full_name}")

    # processes
    def _log_path(self, label: str) -> Path:
        self._seq += 1
        return self.workdir / f"{self._seq:03d}-{label}.log"

    def worker(self, queues: list[str], concurrency: int = 1, threads: int = 1, env: dict | None = None) -> Proc:
        """``runreceiver``; several queues are served with ``--priority``, first = highest."""
        args = [sys.executable, "-m", "django", "runreceiver", *queues]
        if concurrency > 1:
            args += ["--concurrency", str(concurrency)]
        if threads > 1:
            args += ["--threads", str(threads)]
        if len(queues) > 1:
            args.append("--priority")
        label = f"runreceiver-{'+'.join(queues)}-c{concurrency}-t{threads}"
        return Proc(args, {**self.env, **(env or {})}, self._log_path(label))

    def loop(self, full_name: str, handler: str = "noop", env: dict | None = None) -> Proc:
        args = [sys.executable, LOOP, "--endpoint", self.server.url, "--queue-url", self.url(full_name), "--handler", handler]
        return Proc(args, {**self.env, **(env or {})}, self._log_path(f"loop-{full_name}"))

    def fresh(self, kind: str, queue: str) -> str:
        """A new, empty SQS queue for one measurement; returns its name.

        A worker stopped in a long poll leaves the poll running at the server for up to
        20 s, where it can still take (and hide for the visibility timeout) messages
        sent for the next measurement: so no measurement reuses a queue.
        """
        self._queues += 1
        name = f"{PREFIX}{queue}_{ {DS: 'ds', BASE: 'loop'}.get(kind, kind)}{self._queues}"
        self.url(name)
        return name

    def start(
        self, kind: str, queue: str, name: str, concurrency: int = 1, handler: str = "noop", env=None, threads: int = 1,
    ) -> list[Proc]:
        """django_sqs: ``runreceiver QUEUE`` (supervising ``concurrency`` children, each
        with ``threads``), its queue mapped to the SQS queue ``name`` with SQS_QUEUE_URLS;
        the loop: ``concurrency`` processes on ``name``."""
        if kind == DS:
            return [self.start_priority((queue,), [name], concurrency, threads, env)]
        return [self.loop(name, handler, env) for _ in range(concurrency)]

    def start_priority(self, queues, names: list[str], concurrency: int = 1, threads: int = 1, env=None) -> Proc:
        """``runreceiver --priority Q1 Q2 …`` (one queue: plain ``runreceiver Q1``), each
        queue mapped to its SQS queue in ``names``."""
        urls = json.dumps({PREFIX + queue: self.url(name) for queue, name in zip(queues, names, strict=True)})
        return self.worker(list(queues), concurrency, threads, {**(env or {}), "BENCH_QUEUE_URLS": urls})

    def record(self, case: str, kind: str, value) -> None:
        self.results.setdefault(case, {}).setdefault(kind, []).append(value)

    # -- cases ----------------------------------------------------------------------------
    def case_send(self, run: int) -> None:
        """Requests per message: send() one by one and send_many(); boto3 the same."""
        from django_sqs import send, send_many
        from django_sqs.provisioning import queue_url
        from django_sqs.registry import registry

        n_single, n_many = self.cfg.send_single, self.cfg.backlog
        ds_name, loop_name = PREFIX + "send", f"{PREFIX}loop_send"
        queue_url(registry.get("send"))  # the one GetQueueUrl of this process, not in the figures
        loop_url = self.url(loop_name)
        order = (DS, BASE) if run % 2 == 0 else (BASE, DS)
        for kind in order:
            name = ds_name if kind == DS else loop_name
            before = self.counts(name)
            started = time.perf_counter()
            for i in range(n_single):
                if kind == DS:
                    send("send", body=f"message {i}")
                else:
                    self.client.send_message(QueueUrl=loop_url, MessageBody=f"message {i}")
            single_s = time.perf_counter() - started
            middle = self.counts(name)
            started = time.perf_counter()
            bodies = [f"message {i}" for i in range(n_many)]
            if kind == DS:
                send_many("send", bodies)
            else:
                for start in range(0, n_many, 10):
                    self.client.send_message_batch(
                        QueueUrl=loop_url,
                        Entries=[{"Id": str(i), "MessageBody": b} for i, b in enumerate(bodies[start : start + 10])],
                    )
            many_s = time.perf_counter() - started
            after = self.counts(name)
            self.record("send_rpm", kind, sum(self.diff(middle, before).values()) / n_single)
            self.record("send_many_rpm", kind, sum(self.diff(after, middle).values()) / n_many)
            self.record("send_rate", kind, n_single / single_s)
            self.record("send_many_rate", kind, n_many / many_s)

    def case_drain(self, run: int, concurrency: int) -> None:
        order = (DS, BASE) if run % 2 == 0 else (BASE, DS)
        for kind in order:
            self._drain_one(kind, concurrency, run)

    def _drain_one(self, kind: str, concurrency: int, run: int) -> None:
        figures = self.drain(kind, "noop", self.cfg.backlog, concurrency)
        for figure in ("rate", "rpm", "cpu", "requests"):
            self.record(f"drain_{figure}_c{concurrency}", kind, figures[figure])
        self.record(f"memory_c{concurrency}", kind, figures["memory"])

    def case_threads_drain(self, run: int) -> None:
        """A backlog of messages whose receiver waits 50 ms (I/O, not CPU), one process:
        ``--threads 8`` (8 × the backlog) against ``--threads 1``, alternated."""
        order = (1, 8) if run % 2 == 0 else (8, 1)
        figures = {threads: self.drain(DS, "slow", self.cfg.slow_backlog * threads, threads=threads) for threads in order}
        for kind, threads in ((DS, 8), (BASE, 1)):
            for figure in ("rate", "rpm", "cpu", "requests", "memory"):
                self.record(f"threads_{figure}", kind, figures[threads][figure])
            self.record("threads_pss", kind, figures[threads]["memory"]["worker_pss"])
            self.record("threads_uss", kind, figures[threads]["memory"]["worker_uss"])

    def drain(self, kind: str, queue: str, n: int, concurrency: int = 1, threads: int = 1) -> dict:
        """Workers started on an ``n``-message backlog held at the server, settled in
        their long poll, then the backlog released: messages per second from the
        release to the last delete, requests per message, CPU ms per message (the
        process tree, start-up excluded), memory once drained."""
        name = self.fresh(kind, queue)
        self.fill(name, n)
        self.server.hold(name)
        before = self.counts(name)
        procs = self.start(kind, queue, name, concurrency, handler=queue, threads=threads)
        try:
            return self.measure_drain(name, n, procs, before, pollers=concurrency)
        finally:
            for proc in procs:
                if kind == DS:
                    proc.stop()
                else:
                    proc.kill()  # idle in a long poll with nothing in hand

    def measure_drain(self, name: str, n: int, procs: list[Proc], before: dict, pollers: int = 1, timeout=600.0) -> dict:
        """Release the held queue ``name`` (``n`` messages) to ``procs``, once ``pollers``
        of them wait in a long poll on it; the drain's rate, requests and CPU per message."""
        self.wait_receives(name, before, pollers, procs)
        time.sleep(0.3)  # settled inside the held long poll
        cpu_before = sum(cpu_seconds(p.pid) for p in procs)
        released = time.time()
        self.server.release(name)
        wait_for(lambda: self.server.depth(name) == 0, timeout, 0.05, what=f"{name} drained")
        cpu = sum(cpu_seconds(p.pid) for p in procs) - cpu_before
        stats = self.server.stats()
        last = max(stats["last"][name].get(a, 0) for a in ("DeleteMessage", "DeleteMessageBatch"))
        requests = self.diff(self.counts(name, stats), before)
        return {
            "rate": n / (last - released),
            "rpm": sum(requests.values()) / n,
            "cpu": cpu / n * 1000,
            "requests": requests,
            "memory": self._tree_memory(procs),
        }

    def fresh_fifo(self, kind: str) -> str:
        """A new, empty FIFO queue (content-based deduplication) for one measurement."""
        self._queues += 1
        name = f"{PREFIX}fifo_{ {DS: 'ds', BASE: 'loop'}[kind]}{self._queues}.fifo"
        attributes = {"FifoQueue": "true", "ContentBasedDeduplication": "true"}
        self.urls[name] = self.client.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        return name

    def case_fifo_group(self, run: int) -> None:
        """One FIFO group's backlog of no-op messages, one worker: SQS hands out a group's
        next messages only once the previous ones are deleted, so every delete the worker
        holds back stalls the group. django_sqs (``--threads 1``) against the loop (which
        deletes each batch before its next receive), alternated."""
        n = self.cfg.fifo_backlog
        order = (DS, BASE) if run % 2 == 0 else (BASE, DS)
        for kind in order:
            name = self.fresh_fifo(kind)
            url = self.url(name)
            for start in range(0, n, 10):
                entries = [
                    {"Id": str(i), "MessageBody": f"message {start + i}", "MessageGroupId": "g"}
                    for i in range(min(10, n - start))
                ]
                self.client.send_message_batch(QueueUrl=url, Entries=entries)
            self.server.hold(name)
            before = self.counts(name)
            procs = self.start(kind, "fifo_noop.fifo", name)
            try:
                figures = self.measure_drain(name, n, procs, before)
            finally:
                for proc in procs:
                    proc.stop() if kind == DS else proc.kill()
            self.record("fifo_group_rate", kind, figures["rate"])
            self.record("fifo_group_rpm", kind, figures["rpm"])

    def case_fifo_trickle(self, run: int) -> None:
        """One FIFO group whose messages are sent one at a time, as fast as this process
        can, to an idle worker: each receive brings few messages, and the group's next one
        is handed out only once the previous delete landed. Messages per second from the
        first send to the last delete; django_sqs (``--threads 1``) against the loop."""
        n = self.cfg.fifo_trickle
        order = (DS, BASE) if run % 2 == 0 else (BASE, DS)
        for kind in order:
            name = self.fresh_fifo(kind)
            url = self.url(name)
            before = self.counts(name)
            procs = self.start(kind, "fifo_noop.fifo", name)
            try:
                self.wait_receives(name, before, 1, procs)
                time.sleep(0.3)  # in its long poll
                started = time.time()
                for i in range(n):
                    self.client.send_message(
                        QueueUrl=url, MessageBody=f"message {i}", MessageGroupId="g", MessageDeduplicationId=str(i)
                    )
                wait_for(lambda name=name: self.server.depth(name) == 0, 120, 0.05, what=f"{name} drained")
                stats = self.server.stats()
            finally:
                for proc in procs:
                    proc.stop() if kind == DS else proc.kill()
            last = max(stats["last"][name].get(a, 0) for a in ("DeleteMessage", "DeleteMessageBatch"))
            requests = self.diff(self.counts(name, stats), before)
            requests.pop("SendMessage", None)  # the sender's, not the worker's
            self.record("fifo_trickle_rate", kind, n / (last - started))
            self.record("fifo_trickle_rpm", kind, sum(requests.values()) / n)

    def case_task_drain(self, run: int) -> None:
        """Django tasks: ``enqueue_many`` no-op tasks, then one ``runreceiver`` drains them
        (the task path: envelope, Task rebuilt and validated, signals, normalised result)."""
        from django.test import override_settings

        from bench.tasks import noop_task
        from django_sqs.tasks import enqueue_many

        n = self.cfg.backlog
        name = self.fresh(DS, "tasks")
        queue = "tasks__default__noop"
        urls = {PREFIX + queue: self.url(name)}
        before = self.counts(name)
        with override_settings(SQS_QUEUE_URLS=urls):
            enqueue_many(noop_task, [((i,), {}) for i in range(n)])
        filled = self.counts(name)
        self.record("task_enqueue_many_rpm", DS, sum(self.diff(filled, before).values()) / n)
        self.server.hold(name)
        procs = [self.worker([queue], env={"BENCH_QUEUE_URLS": json.dumps(urls)})]
        try:
            drained = self.measure_drain(name, n, procs, filled)
            for figure in ("rate", "rpm", "cpu", "requests"):
                self.record(f"task_drain_{figure}", DS, drained[figure])
            self.record("task_memory", DS, drained["memory"])
        finally:
            procs[0].stop()

    @staticmethod
    def _tree_memory(procs: list[Proc]) -> dict:
        """The worker process (with concurrency: each child) and the tree's total PSS."""
        per_process = []
        for proc in procs:
            for p in tree(proc.pid):
                with contextlib.suppress(psutil.NoSuchProcess, FileNotFoundError):
                    per_process.append({"pid": p.pid, "role": "parent" if p.pid == proc.pid else "child", **memory(p.pid)})
        per_process = [m for m in per_process if "peak_rss" in m]  # not a zombie
        workers = [m for m in per_process if m["role"] == "child"] or per_process
        return {
            "worker_peak_rss": max(m["peak_rss"] for m in workers),
            "worker_pss": max(m.get("pss") or 0 for m in workers),
            "worker_uss": max(m.get("uss") or 0 for m in workers),
            "tree_pss": sum(m.get("pss") or 0 for m in per_process),
            "processes": per_process,
        }

    def case_latency(self, run: int) -> None:
        """Send → receiver starts, on an idle worker in its long poll: django_sqs and the
        loop on one queue; and a ``--priority`` worker on three queues (a message to the
        top queue), against the one-queue worker of the same run. Order rotated."""
        plan = [DS, BASE, PRIO]
        p50: dict = {}
        for kind in plan[run % 3 :] + plan[: run % 3]:
            queues = PRIORITY_LATENCY if kind == PRIO else ("latency",)
            names = [self.fresh(kind, queue) for queue in queues]
            name = names[0]
            url = self.url(name)
            record = self.workdir / f"latency-{kind}-{run}.txt"
            record.write_text("")
            before = self.counts(names[-1])
            env = {"BENCH_RECORD": str(record)}
            if kind == PRIO:
                procs = [self.start_priority(queues, names, env=env)]
            else:
                procs = self.start(kind, "latency", name, handler="latency", env=env)
            samples = []
            try:
                # Once the lowest queue was checked, the top one is in its long poll.
                self.wait_receives(names[-1], before, 1, procs)
                time.sleep(0.5)
                for i in range(self.cfg.latency_samples):
                    sent = time.time()
                    self.client.send_message(QueueUrl=url, MessageBody=repr(sent))
                    wait_for(lambda i=i, r=record: len(r.read_text().splitlines()) > i, 10, 0.005, "the receiver to start")
                    time.sleep(0.1)  # back in its long poll: an idle worker again
                for line in record.read_text().splitlines():
                    sent_at, started_at = map(float, line.split())
                    samples.append((started_at - sent_at) * 1000)
            finally:
                for proc in procs:
                    proc.stop() if kind != BASE else proc.kill()
            p50[kind] = percentile(samples, 50), percentile(samples, 95)
        for i, p in enumerate(("p50", "p95")):
            self.record(f"latency_{p}", DS, p50[DS][i])
            self.record(f"latency_{p}", BASE, p50[BASE][i])
            self.record(f"priority_latency_{p}", DS, p50[PRIO][i])
            self.record(f"priority_latency_{p}", BASE, p50[DS][i])

    def case_sigterm_idle(self, run: int) -> None:
        """Idle workers in a long poll get SIGTERM at once; seconds until each exits.
        django_sqs with one process, ``--concurrency 2`` and ``--threads 8``; the loop."""
        plan = [(DS, "term", 1, 1), (DS, "term2", 2, 1), (DS, "term8", 1, 8)]
        if self.cfg.loop_idle_sigterm:
            plan.append((BASE, "term", 1, 1))
        started = []
        for kind, queue, concurrency, threads in plan:
            name = self.fresh(kind, queue)
            before = self.counts(name)
            procs = self.start(kind, queue, name, concurrency, threads=threads)
            started.append((kind, queue, concurrency, threads, name, before, procs))
        try:
            for _kind, _queue, concurrency, _threads, name, before, procs in started:
                self.wait_receives(name, before, concurrency, procs)
            time.sleep(1.0)  # well inside the 20 s long poll
            times: dict = {}

            def stop(key, proc):
                times[key] = proc.stop(timeout=30)

            stoppers = [
                threading.Thread(target=stop, args=((kind, queue), procs[0]))
                for kind, queue, *_, procs in started
            ]
            for thread in stoppers:
                thread.start()
            for thread in stoppers:
                thread.join()
        finally:
            for *_, procs in started:
                for proc in procs:
                    proc.kill()
        self.record("sigterm_idle_c1", DS, times[(DS, "term")])
        self.record("sigterm_idle_c2", DS, times[(DS, "term2")])
        self.record("sigterm_idle_c2", BASE, times[(DS, "term")])
        if (BASE, "term") in times:
            self.record("sigterm_idle_c1", BASE, times[(BASE, "term")])
        # --threads 8 against one thread, stopped at the same moment.
        self.record("sigterm_idle_t8", DS, times[(DS, "term8")])
        self.record("sigterm_idle_t8", BASE, times[(DS, "term")])

    def case_sigterm_busy(self, run: int) -> None:
        """A worker busy with a backlog of slow messages (50 ms each) gets SIGTERM."""
        order = (DS, BASE) if run % 2 == 0 else (BASE, DS)
        for kind in order:
            name = self.fresh(kind, "slow")
            self.fill(name, self.cfg.busy_backlog)
            before = self.counts(name)
            procs = self.start(kind, "slow", name, handler="slow")
            try:
                deleted = before.get("DeleteMessageBatch", 0)
                wait_for(lambda n=name, d=deleted: self.counts(n).get("DeleteMessageBatch", 0) > d, 60, what="the worker to be busy")
                time.sleep(0.23)  # in the middle of a batch
                elapsed = procs[0].stop(timeout=30)
                depth = self.server.stats(visible=True)["depth"][name]
            finally:
                for proc in procs:
                    proc.kill()
            self.record("sigterm_busy", kind, elapsed)
            self.record("sigterm_busy_in_flight", kind, depth["total"] - depth["visible"])

    def case_priority_order(self, run: int) -> None:
        """``--priority`` on three queues, each with a backlog when the worker starts;
        in the middle of the second queue's backlog, a new backlog arrives in the top
        queue. Every start is recorded (queue, SQS's sent and first-receive times, the
        start); see ``inversions``."""
        n, threads = self.cfg.order_backlog, self.cfg.order_threads
        names = [self.fresh(DS, queue) for queue in PRIORITY_ORDER]
        for name in names:
            self.fill(name, n)
        record = self.workdir / f"order-{run}.txt"
        record.write_text("")

        def started() -> int:
            return len(record.read_text().splitlines())

        proc = self.start_priority(PRIORITY_ORDER, names, threads=threads, env={"BENCH_RECORD": str(record)})
        try:
            # The top backlog done and a third of the second's: the top queue gets another,
            # in the middle of a batch of 10 (the worker holds unstarted messages then).
            wait_for(lambda: started() >= n + n // 3 + 5, 60, 0.005, "the second queue's backlog to be under way")
            self.fill(names[0], n)
            wait_for(lambda: started() >= 4 * n, 120, 0.02, "every message to start")
        finally:
            proc.stop()
        rank = {PREFIX + queue: i for i, queue in enumerate(PRIORITY_ORDER)}
        starts = []
        for line in record.read_text().splitlines():
            queue, message_id, sent_ms, received_ms, at = line.split()
            starts.append((rank[queue], message_id, int(sent_ms) / 1000, int(received_ms) / 1000, float(at)))
        checks = self.server.stats(receives=tuple(names))["receives"]
        counts = self.inversions(starts, [checks.get(name, []) for name in names])
        self.record("priority_inversions", DS, counts["beyond"])
        self.record("priority_inversions_in_hand", DS, counts["in_hand"] + counts["same_round"])
        self.record("priority_inversions_detail", DS, counts)
        self.record("priority_order_starts", DS, len(starts))

    @staticmethod
    def inversions(starts: list[tuple], checks: list[list[float]]) -> dict:
        """Inversions among ``starts`` ((rank, id, sent, first received, started), in
        seconds; SQS's times have a millisecond grain), by what excuses them.

        An inversion is a message started while a message of a higher queue (lower rank)
        was waiting unstarted: sent before it started, started after it. Excused when the
        worker could not have known: it already held the message when every such higher
        message was sent ("in_hand": a worker never takes back what it holds), or it
        received it in a round that had already found the higher queue empty (the higher
        queue's last ReceiveMessage, in ``checks[rank]``, came before the higher message
        was sent: "same_round"). Anything else is "beyond": the worker started a lower
        message while it held a higher one, or took it after asking the higher queue again
        while that queue had messages. Ties (SQS's millisecond) count as excused.
        """
        counts = {"in_hand": 0, "same_round": 0, "beyond": 0}
        for lower in starts:
            rank, _id, _sent, _received, at = lower
            waiting = [h for h in starts if h[0] < rank and h[2] < at < h[4]]
            if waiting:
                counts[_excuse(lower, waiting, checks)] += 1
        return counts

    def case_memory_reference(self) -> None:
        """A bare Django process (``shell -c pass``), and one with a boto3 SQS client."""
        # Measured alive (after exec: a finished child's ru_maxrss would include the
        # harness's own pages it was forked from). "ready" is printed once set up.
        wait = "print('ready', flush=True); sys.stdin.read()"
        codes = {
            "shell_pass": f"import sys; {wait}",
            "shell_boto3_client": f"import sys, boto3; from django_sqs.client import get_client; get_client(); {wait}",
        }
        reference = {}
        for key, code in codes.items():
            popen = subprocess.Popen(
                [sys.executable, "-m", "django", "shell", "-c", code],
                cwd=ROOT, env=self.env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            )
            try:
                for line in popen.stdout:  # Django's shell may say what it imported first
                    if line.strip() == "ready":
                        break
                reference[key] = memory(popen.pid)
            finally:
                popen.stdin.close()
                popen.wait(10)
                popen.stdout.close()
        self.results["memory_reference"] = reference

    # -- peers ------------------------------------------------------------------------------
    def case_peer_drain(self, peer: str, run: int) -> None:
        """A peer fills a queue through its own send API, then drains it with one worker."""
        n = self.cfg.backlog
        self._queues += 1
        name = f"{PREFIX}{peer}-{self._queues}-q"  # PyQS finds queues by name prefix
        url = self.url(name)
        env = {**self.env, "BENCH_PEER_QUEUE": name, "BENCH_PEER_QUEUE_URL": url, "AWS_ENDPOINT_URL_SQS": self.server.url}
        before = self.counts(name)
        fill = subprocess.run(
            [sys.executable, "-m", f"bench.peer_{peer}", "fill", str(n)],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
        )
        if fill.returncode:
            raise RuntimeError(f"{peer} could not send: {fill.stderr[-2000:]}")
        filled = self.counts(name)
        self.record(f"peer_{peer}_send_rpm", PEER, sum(self.diff(filled, before).values()) / n)
        self.server.hold(name)
        proc = Proc([sys.executable, *PEERS[peer](name)], env, self._log_path(f"{peer}-{name}"))
        try:
            drained = self.measure_drain(name, n, [proc], filled)
            for figure in ("rate", "rpm", "cpu", "requests"):
                self.record(f"peer_{peer}_drain_{figure}", PEER, drained[figure])
            self.record(f"peer_{peer}_memory", PEER, drained["memory"])
        finally:
            proc.kill()

    # -- idle, in the background of everything else -------------------------------------
    #: The idle workers: figure, kind, queues (several: --priority), concurrency, threads.
    #: The loop's count is the baseline of every django_sqs figure.
    IDLE = (
        ("idle_c1", DS, ("idle",), 1, 1),
        ("idle_c2", DS, ("idle2",), 2, 1),
        ("idle_t8", DS, ("idle8",), 1, 8),
        ("idle_priority", DS, PRIORITY_IDLE, 1, 1),
        ("idle_loop", BASE, ("idle",), 1, 1),
    )

    def idle_start(self) -> None:
        """Idle workers on their own queues for the whole run; counted in windows."""
        self._idle = []
        for key, kind, queues, concurrency, threads in self.IDLE:
            names = [self.fresh(kind, queue) for queue in queues]
            before = self.counts(names[-1])
            if kind == DS:
                procs = [self.start_priority(queues, names, concurrency, threads)]
            else:
                procs = self.start(kind, queues[0], names[0], concurrency)
            self._idle.append((key, kind, concurrency, names, before, procs))
        # Counted from when each worker checked its last queue once: in its long poll then.
        for _key, _kind, concurrency, names, before, procs in self._idle:
            self.wait_receives(names[-1], before, concurrency, procs)
        self._idle_start = time.time()

    def idle_finish(self) -> None:
        """Requests per minute and worker over every whole window since the start (at
        least ``idle_windows``); per window too, for the spread."""
        window = self.cfg.idle_window
        windows = max(self.cfg.idle_windows, int((time.time() - self._idle_start) // window))
        end = self._idle_start + windows * window
        if end - time.time() > 1:
            log(f"  waiting {end - time.time():.0f} s more for the idle windows")
        time.sleep(max(0.0, end - time.time()))
        stats = self.server.stats(arrivals=tuple(name for *_, names, _, _ in self._idle for name in names))
        self.results["idle_minutes"] = windows * window / 60
        overall: dict = {}
        per_window: dict = {}
        for key, kind, concurrency, names, _, procs in self._idle:
            arrivals = [t for name in names for t in stats["arrivals"].get(name, []) if self._idle_start <= t < end]
            per = concurrency * len(names)  # per queue and process
            overall[key] = len(arrivals) / (windows * window / 60) / per
            per_window[key] = [
                sum(1 for t in arrivals if t0 <= t < t0 + window) / (window / 60) / per
                for t0 in (self._idle_start + i * window for i in range(windows))
            ]
            for proc in procs:
                proc.stop() if kind == DS else proc.kill()
        for key, kind, *_ in self.IDLE:
            if kind == DS:
                self.results[key] = {DS: per_window[key], BASE: per_window["idle_loop"]}
                self.results[key.replace("idle_", "idle_overall_")] = {DS: overall[key], BASE: overall["idle_loop"]}


def _excuse(lower: tuple, waiting: list[tuple], checks: list[list[float]]) -> str:
    """Why ``lower`` started before the higher messages ``waiting``: "in_hand",
    "same_round" or "beyond" (see ``Bench.inversions``)."""
    grain = 0.001
    _rank, _id, _sent, received, at = lower
    if any(h[3] + grain < at for h in waiting):
        return "beyond"  # the worker held a higher message, unstarted, and started this one
    if all(received <= h[2] + grain for h in waiting):
        return "in_hand"
    for h in waiting:
        if received > h[2] + grain:
            earlier = [t for t in checks[h[0]] if t <= received + grain]
            if earlier and max(earlier) > h[2] + grain:
                return "beyond"  # its queue was asked after it came, and this one taken
    return "same_round"


# -- reporting ----------------------------------------------------------------------------
#: Baselines, measured in the same run as the figure they divide.
LOOP_BASE = "loop"  # the hand-written boto3 loop
T1_BASE = "--threads 1"  # django_sqs, one process, one thread
ONE_QUEUE_BASE = "1 queue"  # django_sqs without --priority, on one queue

ROWS = [
    # key, label, unit, format, baseline, goal text, goal check on (ds median, ratio median)
    ("send_rpm", "send(): requests per message", "req/msg", "{:.3f}", LOOP_BASE, "", None),
    ("send_many_rpm", "send_many(): requests per message", "req/msg", "{:.3f}", LOOP_BASE, "≤ 0.1", lambda v, r: v <= 0.1),
    ("send_rate", "send(): messages per second", "msg/s", "{:.0f}", LOOP_BASE, "", None),
    ("send_many_rate", "send_many(): messages per second", "msg/s", "{:.0f}", LOOP_BASE, "", None),
    ("drain_rate_c1", "drain, 1 worker: messages per second", "msg/s", "{:.0f}", LOOP_BASE, "≥ 1.3 × loop", lambda v, r: r >= 1.3),
    ("drain_rpm_c1", "drain, 1 worker: requests per message", "req/msg", "{:.3f}", LOOP_BASE, "≤ 0.21", lambda v, r: v <= 0.21),
    ("drain_cpu_c1", "drain, 1 worker: CPU s per 1,000 msg", "s", "{:.3f}", LOOP_BASE, "≤ 1.5 × loop", lambda v, r: r <= 1.5),
    ("fifo_group_rate", "FIFO, one group's backlog: messages per second", "msg/s", "{:.0f}", LOOP_BASE, "≥ 0.5 × loop", lambda v, r: r >= 0.5),
    ("fifo_group_rpm", "FIFO, one group's backlog: requests per message", "req/msg", "{:.3f}", LOOP_BASE, "", None),
    ("fifo_trickle_rate", "FIFO, one group sent one at a time: msg/s", "msg/s", "{:.0f}", LOOP_BASE, "≥ 0.5 × loop", lambda v, r: r >= 0.5),
    ("fifo_trickle_rpm", "FIFO, one group sent one at a time: req/msg", "req/msg", "{:.3f}", LOOP_BASE, "", None),
    ("drain_rate_c2", "drain, --concurrency 2: messages per second", "msg/s", "{:.0f}", LOOP_BASE, "", None),
    ("drain_rpm_c2", "drain, --concurrency 2: requests per message", "req/msg", "{:.3f}", LOOP_BASE, "≤ 0.21", lambda v, r: v <= 0.21),
    ("drain_cpu_c2", "drain, --concurrency 2: CPU s per 1,000 msg", "s", "{:.3f}", LOOP_BASE, "≤ 1.5 × loop", lambda v, r: r <= 1.5),
    ("threads_rate", "50 ms I/O drain, --threads 8: msg per second", "msg/s", "{:.0f}", T1_BASE, "≥ 6 × t1", lambda v, r: r >= 6),
    ("threads_rpm", "50 ms I/O drain, --threads 8: req per message", "req/msg", "{:.3f}", T1_BASE, "≤ 0.21", lambda v, r: v <= 0.21),
    ("threads_pss", "50 ms I/O drain, --threads 8: worker PSS", "MB", "{:.1f}", T1_BASE, "≤ 1.2 × t1", lambda v, r: r <= 1.2),
    ("threads_uss", "50 ms I/O drain, --threads 8: worker USS", "MB", "{:.1f}", T1_BASE, "≤ 1.2 × t1", lambda v, r: r <= 1.2),
    ("idle_c1", "idle, 1 worker: requests per minute", "req/min", "{:.2f}", LOOP_BASE, "≤ 3", lambda v, r: v <= 3),
    ("idle_c2", "idle, --concurrency 2: req/min per worker", "req/min", "{:.2f}", LOOP_BASE, "≤ 3", lambda v, r: v <= 3),
    ("idle_t8", "idle, --threads 8: requests per minute", "req/min", "{:.2f}", LOOP_BASE, "≤ 3", lambda v, r: v <= 3),
    ("idle_priority", "idle, --priority 3 queues: req/min/queue", "req/min", "{:.2f}", LOOP_BASE, "≤ 3", lambda v, r: v <= 3),
    ("latency_p50", "pick-up latency p50 (idle worker)", "ms", "{:.1f}", LOOP_BASE, "≤ 10 ms", lambda v, r: v <= 10),
    ("latency_p95", "pick-up latency p95 (idle worker)", "ms", "{:.1f}", LOOP_BASE, "", None),
    ("priority_latency_p50", "pick-up p50, --priority, top queue", "ms", "{:.1f}", ONE_QUEUE_BASE, "≤ 10 ms", lambda v, r: v <= 10),
    ("priority_latency_p95", "pick-up p95, --priority, top queue", "ms", "{:.1f}", ONE_QUEUE_BASE, "", None),
    ("priority_inversions", "--priority backlogs: inversions beyond in hand", "msgs", "{:.0f}", "", "0", lambda v, r: v == 0),
    ("priority_inversions_in_hand", "  inversions excused (in hand, same round)", "msgs", "{:.0f}", "", "", None),
    ("sigterm_idle_c1", "SIGTERM to exit, idle worker", "s", "{:.2f}", LOOP_BASE, "≤ 1 s", lambda v, r: v <= 1),
    ("sigterm_idle_c2", "SIGTERM to exit, idle, --concurrency 2", "s", "{:.2f}", T1_BASE, "≤ 1 s", lambda v, r: v <= 1),
    ("sigterm_idle_t8", "SIGTERM to exit, idle, --threads 8", "s", "{:.2f}", T1_BASE, "≤ 1 s", lambda v, r: v <= 1),
    ("sigterm_busy", "SIGTERM to exit, busy worker (50 ms msgs)", "s", "{:.2f}", LOOP_BASE, "", None),
    ("sigterm_busy_in_flight", "  messages left invisible after that exit", "msgs", "{:.0f}", LOOP_BASE, "", None),
    # The tasks backend's drain (a backlog of enqueued django.tasks, one worker) goes here,
    # with its case in Bench and its call in main(): written with the tasks backend.
]


#: Figures whose goal must hold in every run: checked on the worst run, not the median.
WORST_RUN = {"priority_inversions"}


def summarize(results: dict) -> dict:
    summary = {}
    for key, label, unit, _fmt, baseline, goal, check in ROWS:
        data = results.get(key, {})
        ds, base = data.get(DS, []), data.get(BASE, [])
        row = {"label": label, "unit": unit, "baseline_is": baseline, "goal": goal}
        for kind, values in ((DS, ds), (BASE, base)):
            if values:
                row[kind] = {"median": median(values), "min": min(values), "max": max(values), "runs": values}
                if key.startswith("idle_"):
                    # A count per 60 s window is 2 or 3 for one 20 s poll, by where the window
                    # falls: the figure is the rate over the whole run, windows give the spread.
                    row[kind]["median"] = results[key.replace("idle_", "idle_overall_")][kind]
        if key.startswith("idle_") and ds and base and row[BASE]["median"]:
            ratio = row[DS]["median"] / row[BASE]["median"]
            row["ratio"] = {"median": ratio, "min": ratio, "max": ratio}
        elif ds and base and len(ds) == len(base) and all(base):
            ratios = [a / b for a, b in zip(ds, base, strict=True)]
            row["ratio"] = {"median": median(ratios), "min": min(ratios), "max": max(ratios)}
        if check and ds:
            ratio = row.get("ratio", {}).get("median")
            try:
                row["met"] = bool(check(row[DS]["max" if key in WORST_RUN else "median"], ratio))
            except TypeError:
                row["met"] = None
        summary[key] = row
    return summary


def fmt_spread(fmt: str, stats: dict | None, runs: int) -> str:
    if not stats:
        return "n/a"
    text = fmt.format(stats["median"])
    if runs > 1:
        text += f" ({fmt.format(stats['min'])}–{fmt.format(stats['max'])})"
    return text


def print_table(summary: dict, results: dict, runs: int) -> None:
    header = (
        f"{'figure':<52} {'django_sqs':>22} {'baseline (same run)':>22} {'is':<11} {'ratio':>18}  {'goal':<14} met"
    )
    log(header)
    log("-" * len(header))
    for key, label, unit, fmt, baseline, goal, _check in ROWS:
        row = summary[key]
        ratio = fmt_spread("{:.2f}×", row.get("ratio"), runs) if row.get("ratio") else ""
        met = {True: "yes", False: "NO", None: ""}[row.get("met")] if "met" in row else ""
        base = fmt_spread(fmt, row.get(BASE), runs) if row.get(BASE) else ""
        log(
            f"{label + ' [' + unit + ']':<52} {fmt_spread(fmt, row.get(DS), runs):>22} "
            f"{base:>22} {baseline if base else '':<11} {ratio:>18}  {goal:<14} {met}"
        )
    log("baselines: loop = the hand-written boto3 loop; --threads 1 = django_sqs, one process and "
        "thread; 1 queue = django_sqs without --priority")
    mem = results.get("memory_c1", {})
    ref = results.get("memory_reference", {})
    if mem.get(DS) and ref:
        ds_peak = median([m["worker_peak_rss"] for m in mem[DS]])
        ds_pss = median([m["worker_pss"] for m in mem[DS]])
        loop_peak = median([m["worker_peak_rss"] for m in mem.get(BASE, [])])
        loop_pss = median([m["worker_pss"] for m in mem.get(BASE, [])])
        c2 = results.get("memory_c2", {}).get(DS, [])
        boto = ref["shell_boto3_client"]
        log("")
        log("memory (MB)                                   peak RSS      PSS")
        log(f"  runreceiver worker after the drain           {ds_peak:8.1f} {ds_pss:8.1f}")
        if c2:
            log(f"  --concurrency 2: each child / whole tree     {median([m['worker_peak_rss'] for m in c2]):8.1f} "
                f"{median([m['worker_pss'] for m in c2]):8.1f} / tree PSS {median([m['tree_pss'] for m in c2]):.1f}")
        bare = ref["shell_pass"]
        log(f"  manage.py shell (Django, boto3 imported)     {bare['peak_rss']:8.1f} {bare.get('pss') or 0:8.1f}")
        log(f"  the same with an SQS client (reference)      {boto['peak_rss']:8.1f} {boto.get('pss') or 0:8.1f}")
        if loop_peak:
            log(f"  hand-written loop (boto3, no Django)         {loop_peak:8.1f} {loop_pss:8.1f}")
        log(f"  worker − reference: peak RSS {ds_peak - boto['peak_rss']:+.1f} MB, PSS {ds_pss - (boto.get('pss') or 0):+.1f} MB")


def table_lines(document: dict) -> list[str]:
    """The figures of a results file as a table that Markdown and Org both read: what
    bench/RESULTS.md and docs/benchmarks.rst show (``bench/run.py --table FILE``)."""
    summary, runs = document["summary"], document["meta"]["config"]["runs"]
    lines = [
        "| figure | django_sqs | baseline (same run) | ratio | goal | met |",
        "|---|---|---|---|---|---|",
    ]
    for key, label, unit, fmt, baseline, goal, _check in ROWS:
        row = summary.get(key)
        if not row or not row.get(DS):
            continue
        base = f"{baseline}: {fmt_spread(fmt, row[BASE], runs)}" if row.get(BASE) else ""
        ratio = fmt_spread("{:.2f}×", row["ratio"], runs) if row.get("ratio") else ""
        met = {True: "yes", False: "NO", None: ""}[row.get("met")] if "met" in row else ""
        lines.append(f"| {label.strip()} [{unit}] | {fmt_spread(fmt, row[DS], runs)} | {base} | {ratio} | {goal} | {met} |")
    return lines + [""] + memory_lines(document) + [""] + peer_lines(document)


def memory_lines(document: dict) -> list[str]:
    """Medians of the processes' memory, MB."""
    results = document["results"]
    ref = results.get("memory_reference")
    if not ref or not results.get("memory_c1", {}).get(DS):
        return []

    def med(key: str, kind: str, field: str):
        values = [m[field] for m in results.get(key, {}).get(kind, [])]
        return median(values)

    rows = [
        ("runreceiver worker after its drain", med("memory_c1", DS, "worker_peak_rss"), med("memory_c1", DS, "worker_pss")),
        ("--concurrency 2: each child", med("memory_c2", DS, "worker_peak_rss"), med("memory_c2", DS, "worker_pss")),
        ("--threads 1 after the 50 ms drain", med("threads_memory", BASE, "worker_peak_rss"), med("threads_memory", BASE, "worker_pss")),
        ("--threads 8 after the 50 ms drain", med("threads_memory", DS, "worker_peak_rss"), med("threads_memory", DS, "worker_pss")),
        ("manage.py shell (Django, django_sqs, boto3 imported)", ref["shell_pass"]["peak_rss"], ref["shell_pass"].get("pss")),
        ("the same with an SQS client: the reference", ref["shell_boto3_client"]["peak_rss"], ref["shell_boto3_client"].get("pss")),
        ("hand-written loop (boto3, no Django)", med("memory_c1", BASE, "worker_peak_rss"), med("memory_c1", BASE, "worker_pss")),
    ]
    for peer in PEERS:
        if results.get(f"peer_{peer}_memory"):
            rows.append((f"{peer} worker after its drain", med(f"peer_{peer}_memory", PEER, "worker_peak_rss"),
                         med(f"peer_{peer}_memory", PEER, "worker_pss")))
    lines = ["| memory (MB, medians) | peak RSS | PSS |", "|---|---|---|"]
    lines += [f"| {label} | {peak:.1f} | {pss:.1f} |" for label, peak, pss in rows if peak]
    return lines


def peer_lines(document: dict) -> list[str]:
    peers, runs = document.get("peers") or {}, min(document["meta"]["config"]["runs"], document["meta"]["config"]["peer_runs"])
    if not peers:
        return []
    lines = ["| peer (defaults, 20 s long polling) | " + " | ".join(label for _f, label, _fmt, _l in PEER_ROWS) + " |",
             "|---|" + "---|" * len(PEER_ROWS)]
    for peer in PEERS:
        cells = []
        for figure, _label, fmt, _loop in PEER_ROWS:
            row = peers.get(f"{peer}_{figure}")
            ratio = f" ({fmt_spread('{:.2f}', row['ratio'], 1)}× loop)" if row and row.get("ratio") else ""
            cells.append(f"{fmt_spread(fmt, row['peer'], runs)}{ratio}" if row else "")
        lines.append(f"| {peer} | " + " | ".join(cells) + " |")
    return lines


def peers_installed() -> dict[str, bool]:
    import importlib.util

    return {name: importlib.util.find_spec(name) is not None for name in PEERS}


PEER_ROWS = [
    # figure, label, format, the loop's figure (same run) it is compared with
    ("drain_rate", "drain, 1 worker: messages per second", "{:.0f}", "drain_rate_c1"),
    ("drain_rpm", "drain, 1 worker: requests per message", "{:.3f}", "drain_rpm_c1"),
    ("drain_cpu", "drain, 1 worker: CPU s per 1,000 msg", "{:.3f}", "drain_cpu_c1"),
    ("send_rpm", "its send API: requests per message", "{:.3f}", "send_rpm"),
]


def summarize_peers(results: dict) -> dict:
    summary = {}
    for peer in PEERS:
        for figure, label, _fmt, loop_key in PEER_ROWS:
            values = results.get(f"peer_{peer}_{figure}", {}).get(PEER, [])
            if not values:
                continue
            loop = results.get(loop_key, {}).get(BASE, [])
            row = {"label": f"{peer}: {label}", "peer": {"median": median(values), "min": min(values), "max": max(values), "runs": values}}
            if len(loop) >= len(values) and all(loop):
                ratios = [v / b for v, b in zip(values, loop, strict=False)]
                row["ratio"] = {"median": median(ratios), "min": min(ratios), "max": max(ratios)}
            summary[f"{peer}_{figure}"] = row
    return summary


def print_peers(summary: dict, installed: dict[str, bool], runs: int) -> None:
    log("")
    missing = [peer for peer, ok in installed.items() if not ok]
    if missing:
        log(f"peers not installed, not measured: {', '.join(missing)} (pip install -e '.[bench]')")
    if not summary:
        return
    log(f"peers, each through its own send API and worker, defaults but for long polling "
        f"({runs} runs; ratio to the loop's figure in the same run):")
    for peer in PEERS:
        for figure, _label, fmt, _loop in PEER_ROWS:
            row = summary.get(f"{peer}_{figure}")
            if row:
                ratio = fmt_spread("{:.2f}×", row.get("ratio"), runs) if row.get("ratio") else ""
                log(f"  {row['label']:<50} {fmt_spread(fmt, row['peer'], runs):>22} {ratio:>22}")


TASK_ROWS = [
    # key, label, format, goal text, goal check on the median
    ("task_enqueue_many_rpm", "enqueue_many(): requests per task", "{:.3f}", "≤ 0.1", lambda v: v <= 0.1),
    ("task_drain_rpm", "task drain, 1 worker: requests per task", "{:.3f}", "≤ 0.21", lambda v: v <= 0.21),
    ("task_drain_rate", "task drain, 1 worker: tasks per second", "{:.0f}", "", None),
    ("task_drain_cpu", "task drain, 1 worker: CPU s per 1,000 tasks", "{:.3f}", "", None),
]
#: Ratios of the task drain in the same run: (label, figure, compared with, kind, goal, check).
TASK_RATIOS = [
    ("rate / django_sqs receiver drain", "task_drain_rate", "drain_rate_c1", DS, "≥ 0.9", lambda r: r >= 0.9),
    ("CPU / django_sqs receiver drain", "task_drain_cpu", "drain_cpu_c1", DS, "", None),
    ("rate / hand-written loop", "task_drain_rate", "drain_rate_c1", BASE, "", None),
    ("rate / django-tasks-sqs", "task_drain_rate", "peer_django_tasks_sqs_drain_rate", PEER, "≥ 3", lambda r: r >= 3),
    ("requests / django-tasks-sqs", "task_drain_rpm", "peer_django_tasks_sqs_drain_rpm", PEER, "", None),
]


def _stats(values: list) -> dict | None:
    values = [v for v in values if v is not None]
    return {"median": median(values), "min": min(values), "max": max(values), "runs": values} if values else None


def summarize_tasks(results: dict) -> dict:
    summary = {}
    for key, label, _fmt, goal, check in TASK_ROWS:
        stats = _stats(results.get(key, {}).get(DS, []))
        if stats:
            summary[key] = {"label": label, "goal": goal, DS: stats, "met": check(stats["median"]) if check else None}
    for label, key, other, kind, goal, check in TASK_RATIOS:
        mine, theirs = results.get(key, {}).get(DS, []), results.get(other, {}).get(kind, [])
        # Run by run: each ratio compares two measurements of the same run.
        stats = _stats([a / b for a, b in zip(mine, theirs, strict=False) if b])
        if stats:
            summary[f"{key}/{other}/{kind}"] = {"label": label, "goal": goal, "ratio": stats, "met": check(stats["median"]) if check else None}
    return summary


def print_tasks(summary: dict, runs: int) -> None:
    if not summary:
        return
    log("")
    log("Django tasks (django_sqs.tasks), the same runs:")
    met = {True: "yes", False: "NO", None: ""}
    for key, _label, fmt, _goal, _check in TASK_ROWS:
        row = summary.get(key)
        if row:
            log(f"  {row['label']:<50} {fmt_spread(fmt, row[DS], runs):>22}  {row['goal']:<8} {met[row['met']]}")
    for label, key, other, kind, _goal, _check in TASK_RATIOS:
        row = summary.get(f"{key}/{other}/{kind}")
        if row:
            shown = len(row["ratio"]["runs"])
            log(f"  {'task drain ' + label:<50} {fmt_spread('{:.2f}×', row['ratio'], shown):>22}  {row['goal']:<8} {met[row['met']]}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: small backlogs, one run, no peers (~45 s)")
    parser.add_argument("--runs", type=int, help="runs of each case (default 5, --quick 1)")
    parser.add_argument("--backlog", type=int, help="messages in the drain backlog (default 2000, --quick 200)")
    parser.add_argument("--idle-window", type=float, help="seconds per idle window (default 60, --quick 5)")
    parser.add_argument("--json", type=Path, help="also write the results here (always: bench/results/)")
    parser.add_argument(
        "--tasks", action="store_true",
        help="only the Django tasks figures and what they are compared with: the receiver drain, "
        "the loop and django-tasks-sqs (when installed)",
    )
    parser.add_argument(
        "--many", action="store_true",
        help="only the many-queue figures (issue 18): pick-up per priority level and weighted queue, "
        "idle requests per queue, ten queues in one weighted worker against ten forked workers",
    )
    parser.add_argument("--table", type=Path, metavar="FILE", help="print the figures of a results file as a table; run nothing")
    parser.add_argument("--periodic", action="store_true", help="only periodic work, mode B (bench/periodic.py)")
    options = parser.parse_args(argv)
    if options.periodic:
        from bench import periodic

        return periodic.main(["--quick"] if options.quick else [])
    if options.table:
        for line in table_lines(json.loads(options.table.read_text())):
            print(line)
        return 0
    if psutil is None:
        log("bench/run.py needs psutil: pip install -e '.[bench]'")
        return 2
    cfg = Config.quick_config() if options.quick else Config()
    if options.runs:
        cfg.runs = options.runs
    if options.backlog:
        cfg.backlog = options.backlog
    if options.idle_window:
        cfg.idle_window = options.idle_window

    import moto

    started_at = time.monotonic()
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    RESULTS.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="django-sqs-bench-"))
    meta = {
        "date": datetime.date.today().isoformat(),
        "quick": cfg.quick,
        "config": dataclasses.asdict(cfg),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "moto": moto.__version__,
        "boto3": boto3.__version__,
        "server": PATCH_NOTE,
        "logs": str(workdir),
    }
    log(f"django_sqs benchmarks{' (quick)' if cfg.quick else ''}: {cfg.runs} run(s), backlog {cfg.backlog}, "
        f"Python {meta['python']}, {meta['cpus']} CPUs, moto {meta['moto']}")
    log(f"server: {PATCH_NOTE}")
    log(f"logs: {workdir}")
    installed = peers_installed()
    meta["peers_installed"] = installed
    server = BenchServer(env={"PYTHONPATH": str(ROOT)})
    server.start()
    bench = Bench(cfg, server, workdir)
    try:
        if options.tasks:
            run_tasks_only(bench, cfg, installed)
        elif options.many:
            run_many_only(bench, cfg)
        else:
            run_all(bench, cfg, installed)
    finally:
        for proc in Proc.started:
            proc.kill()
        server.stop()
    summary = {} if options.tasks or options.many else summarize(bench.results)
    meta["seconds"] = round(time.monotonic() - started_at, 1)
    log("")
    if not options.tasks and not options.many:
        print_table(summary, bench.results, cfg.runs)
    for line in many_queues.lines(bench.results):
        log(line)
    peers = summarize_peers(bench.results)
    if cfg.peer_runs:
        print_peers(peers, installed, min(cfg.runs, cfg.peer_runs))
    tasks_summary = summarize_tasks(bench.results)
    print_tasks(tasks_summary, cfg.runs)
    log("")
    log("django_sqs's workers are given their queue's URL (SQS_QUEUE_URLS), as the loop is: no GetQueueUrl")
    log(f"finished in {meta['seconds']:.0f} s")
    document = {"meta": meta, "summary": summary, "peers": peers, "tasks": tasks_summary, "results": bench.results}
    tag = "-tasks" if options.tasks else "-many" if options.many else ""
    path = RESULTS / f"bench-{stamp}{tag}{'-quick' if cfg.quick else ''}.json"
    latest = f"latest{tag}{'-quick' if cfg.quick else ''}.json"
    for target in (path, RESULTS / latest, options.json):
        if target:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(document, indent=2, default=str))
    log(f"results: {path}")
    return 0


def run_peers(bench: Bench, run: int, peers: list[str]) -> None:
    for peer in peers[run % len(peers):] + peers[: run % len(peers)] if peers else []:
        log(f"run {run + 1}: peer {peer}, drain")
        bench.case_peer_drain(peer, run)


def run_tasks_only(bench: Bench, cfg: Config, installed: dict[str, bool]) -> None:
    for run in range(cfg.runs):
        log(f"run {run + 1}/{cfg.runs}: drain, 1 worker (receiver and loop)")
        bench.case_drain(run, 1)
        log(f"run {run + 1}/{cfg.runs}: Django tasks, enqueue_many and drain")
        bench.case_task_drain(run)
        if run < cfg.peer_runs and installed.get("django_tasks_sqs"):
            run_peers(bench, run, ["django_tasks_sqs"])


def run_many(bench: Bench, cfg: Config, run: int) -> None:
    log(f"run {run + 1}/{cfg.runs}: many queues, pick-up per priority level and weighted queue")
    many_queues.case_pickup(bench, run)
    log(f"run {run + 1}/{cfg.runs}: many queues, ten queues in one weighted worker and in ten")
    many_queues.case_ten_queues(bench, run)


def run_many_only(bench: Bench, cfg: Config) -> None:
    log("idle: many-queue workers started, counted in the background")
    many_queues.idle_start(bench)
    for run in range(cfg.runs):
        run_many(bench, cfg, run)
    many_queues.idle_finish(bench, cfg.idle_window * cfg.idle_windows)


def run_all(bench: Bench, cfg: Config, installed: dict[str, bool]) -> None:
    log("idle: workers started, counted in the background of the other cases")
    bench.idle_start()
    many_queues.idle_start(bench)
    for run in range(cfg.runs):
        log(f"run {run + 1}/{cfg.runs}: send")
        bench.case_send(run)
        log(f"run {run + 1}/{cfg.runs}: drain, 1 worker")
        bench.case_drain(run, 1)
        log(f"run {run + 1}/{cfg.runs}: Django tasks, enqueue_many and drain")
        bench.case_task_drain(run)
        log(f"run {run + 1}/{cfg.runs}: FIFO, one group's backlog")
        bench.case_fifo_group(run)
        bench.case_fifo_trickle(run)
        log(f"run {run + 1}/{cfg.runs}: drain, --concurrency 2")
        bench.case_drain(run, 2)
        log(f"run {run + 1}/{cfg.runs}: drain, 50 ms I/O receiver, --threads 8 and 1")
        bench.case_threads_drain(run)
        log(f"run {run + 1}/{cfg.runs}: pick-up latency (one queue, loop, --priority)")
        bench.case_latency(run)
        log(f"run {run + 1}/{cfg.runs}: --priority, start order with backlogs")
        bench.case_priority_order(run)
        log(f"run {run + 1}/{cfg.runs}: SIGTERM, idle and busy")
        bench.case_sigterm_idle(run)
        bench.case_sigterm_busy(run)
        run_many(bench, cfg, run)
        if run < cfg.peer_runs:
            run_peers(bench, run, [p for p, ok in installed.items() if ok])
    log("memory: reference processes")
    bench.case_memory_reference()
    bench.idle_finish()
    many_queues.idle_finish(bench, 0)


if __name__ == "__main__":
    sys.exit(main())
