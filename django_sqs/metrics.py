"""Prometheus metrics of the worker processes (optional: ``pip install 'django-sqs-worker[metrics]'``).

Each worker process counts, from the worker's signals and from botocore's events on its
SQS client; the runreceiver process serves the sum of all of them on one port. That is
prometheus_client's multiprocess mode, used with one process as with many, so there is a
single code path: values live in small memory-mapped files in a directory
(``PROMETHEUS_MULTIPROC_DIR``, a temporary one unless set), every process writes its own,
and the server reads them all at each scrape. A restarted worker's counters go on adding
up; the gauges of a process that exited are dropped.

Metrics (labels in brackets):

- ``django_sqs_messages_total`` [queue, outcome]: messages handled; outcome as in the
  ``message_handled`` signal (ok, restart, error, bad message, expired).
- ``django_sqs_receiver_duration_seconds`` [queue]: histogram of receiver run times.
- ``django_sqs_messages_in_hand`` [queue]: receivers running now.
- ``django_sqs_requests_total`` [action, queue]: SQS API calls made (the bill), by action
  (ReceiveMessage, DeleteMessageBatch, ...) and queue.
- ``django_sqs_empty_receives_total`` [queue]: receives that came back with no message.
- ``django_sqs_worker_queues`` [worker, queue, mode]: worker processes serving each queue
  now, by worker (the ``SQS_WORKERS`` group, else its queues joined by "+") and mode
  (single, priority, weighted).
- ``django_sqs_last_poll_timestamp_seconds`` [queue] and ``django_sqs_last_poll_age_seconds``
  [queue]: when a receive on the queue last returned, and how long ago that was at the scrape.
"""

from __future__ import annotations

import glob
import os
import struct
import time
from urllib.parse import urlsplit

from . import client, signals

try:
    import prometheus_client
    from prometheus_client import multiprocess, values
    from prometheus_client.core import GaugeMetricFamily
except ImportError:  # the optional extra is not installed
    prometheus_client = None

MISSING = "--metrics-port needs prometheus_client: pip install 'django-sqs-worker[metrics]'"
ENV = "PROMETHEUS_MULTIPROC_DIR"
#: Receiver durations: from a no-op (well under a millisecond) to a long job.
DURATION_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900)


def available() -> bool:
    return prometheus_client is not None


def use_directory(path: str) -> str | None:
    """Make this process (and those it forks) write multiprocess values under ``path``.
    Returns the previous setting, for ``restore_directory``."""
    previous = os.environ.get(ENV)
    os.environ[ENV] = path
    # prometheus_client chooses its value class when imported; the project may have
    # imported it before runreceiver chose the directory.
    values.ValueClass = values.get_value_class()
    return previous


def restore_directory(previous: str | None) -> None:
    if previous is None:
        os.environ.pop(ENV, None)
    else:
        os.environ[ENV] = previous
    values.ValueClass = values.get_value_class()


def queue_of_params(params: dict) -> str:
    """The queue an SQS call is about: the last segment of its URL, or its name."""
    url = params.get("QueueUrl")
    if url:
        return urlsplit(url).path.rstrip("/").rpartition("/")[2] or "-"
    return params.get("QueueName") or "-"


class ProcessMetrics:
    """The metrics one worker process records; ``start()`` connects them."""

    _LISTENERS = {
        "worker_started": "on_worker_started",
        "queue_polled": "on_queue_polled",
        "message_received": "on_message_received",
        "message_handled": "on_message_handled",
    }

    def __init__(self):
        # registry=None: in multiprocess mode values go to files; the server aggregates them.
        p = prometheus_client
        self.messages = p.Counter("django_sqs_messages", "Messages handled, by queue and outcome.", ["queue", "outcome"], registry=None)
        self.duration = p.Histogram(
            "django_sqs_receiver_duration_seconds", "Time receivers took, by queue.", ["queue"],
            buckets=DURATION_BUCKETS, registry=None,
        )
        self.in_hand = p.Gauge(
            "django_sqs_messages_in_hand", "Receivers running now, by queue.", ["queue"],
            multiprocess_mode="livesum", registry=None,
        )
        self.requests = p.Counter("django_sqs_requests", "SQS API calls made, by action and queue.", ["action", "queue"], registry=None)
        self.empty = p.Counter("django_sqs_empty_receives", "Receives that returned no message, by queue.", ["queue"], registry=None)
        self.worker_queues = p.Gauge(
            "django_sqs_worker_queues", "Worker processes serving the queue now, by worker and mode.",
            ["worker", "queue", "mode"], multiprocess_mode="livesum", registry=None,
        )
        self.last_poll = p.Gauge(
            "django_sqs_last_poll_timestamp_seconds", "When a receive on the queue last returned (Unix time).", ["queue"],
            multiprocess_mode="max", registry=None,
        )

    # -- listeners --------------------------------------------------------------------
    def on_worker_started(self, queues=(), worker="", mode="", **kwargs) -> None:
        for queue in queues:
            self.worker_queues.labels(worker or "+".join(queues), queue, mode or "single").set(1)

    def on_queue_polled(self, queue, received=0, ok=True, **kwargs) -> None:
        self.last_poll.labels(queue).set(time.time())
        if ok and not received:
            self.empty.labels(queue).inc()

    def on_message_received(self, queue, **kwargs) -> None:
        self.in_hand.labels(queue).inc()

    def on_message_handled(self, queue, outcome, duration, **kwargs) -> None:
        self.in_hand.labels(queue).dec()
        self.messages.labels(queue, outcome).inc()
        self.duration.labels(queue).observe(duration)

    def on_sqs_call(self, model, params, **kwargs) -> None:
        self.requests.labels(model.name, queue_of_params(params)).inc()

    def watch_client(self, sqs_client) -> None:
        # Once per API call, with the call's own parameters (QueueUrl); botocore's retries
        # of a failed call are not counted again.
        sqs_client.meta.events.register("before-parameter-build.sqs", self.on_sqs_call, unique_id="django_sqs.metrics")

    # -- lifecycle --------------------------------------------------------------------
    def start(self) -> ProcessMetrics:
        for name, method in self._LISTENERS.items():
            getattr(signals, name).connect(getattr(self, method), weak=False, dispatch_uid=f"django_sqs.metrics.{name}")
        client.new_client_hooks.append(self.watch_client)
        client.reset()  # a client built before now would go uncounted: build the next one watched
        return self

    def stop(self) -> None:
        for name in self._LISTENERS:
            getattr(signals, name).disconnect(dispatch_uid=f"django_sqs.metrics.{name}")
        if self.watch_client in client.new_client_hooks:
            client.new_client_hooks.remove(self.watch_client)
        client.reset()


class Aggregate:
    """What the server shows: every process's values, plus the poll ages at this scrape."""

    def __init__(self, path: str):
        self.path = path

    def _families(self):
        """prometheus_client's multiprocess merge, over the files that are complete: a
        worker process just forked may have created its file and not yet sized it (an
        empty file would fail the whole scrape), and a reaped one's may vanish meanwhile."""
        for attempt in range(3):
            files = []
            for path in glob.glob(os.path.join(self.path, "*.db")):
                try:
                    if os.path.getsize(path) > 0:
                        files.append(path)
                except OSError:
                    continue
            try:
                return multiprocess.MultiProcessCollector.merge(files, accumulate=True)
            except (OSError, struct.error, ValueError):
                if attempt == 2:
                    raise
                time.sleep(0.01)

    def collect(self):
        now = time.time()
        for family in self._families():
            yield family
            if family.name == "django_sqs_last_poll_timestamp_seconds":
                ages = GaugeMetricFamily(
                    "django_sqs_last_poll_age_seconds", "Seconds since a receive on the queue last returned.",
                    labels=["queue"],
                )
                for sample in family.samples:
                    ages.add_metric([sample.labels["queue"]], max(0.0, now - sample.value))
                yield ages


def serve(host: str, port: int, path: str):
    """Serve the aggregate of ``path`` on ``host:port``; returns the server (``server_address``
    tells the port when 0 was asked for)."""
    registry = prometheus_client.CollectorRegistry(auto_describe=False)
    registry.register(Aggregate(path))
    server, _thread = prometheus_client.start_http_server(port, addr=host, registry=registry)
    return server


def mark_process_dead(pid: int, path: str) -> None:
    multiprocess.mark_process_dead(pid, path)
