"""What the operations listeners cost on the path of every message.

    .venv/bin/python bench/ops_listeners.py

Sends ``message_received`` and ``message_handled`` by hand, as the worker does around each
receiver, with no listener, with the health reporter, and with the health reporter and
the Prometheus metrics (``ops.configure`` + ``ops.worker_process_started``, as runreceiver
with --health-file and --metrics-port). Prints microseconds per message (best of 3 runs
of 20,000); no SQS involved.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")

import django  # noqa: E402

django.setup()

from django_sqs import ops, signals  # noqa: E402

MESSAGES = 20_000


def per_message() -> float:
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for i in range(MESSAGES):
            signals.emit(signals.message_received, object, queue="q", message_id=str(i), receive_count=1, sent_at=None)
            signals.emit(
                signals.message_handled, object, queue="q", message_id=str(i), outcome="ok", duration=0.001, receive_count=1,
            )
        best = min(best, (time.perf_counter() - started) / MESSAGES * 1e6)
    return best


def main() -> None:
    directory = tempfile.mkdtemp()
    health_file = os.path.join(directory, "health.json")
    print(f"no listeners       {per_message():6.1f} µs/message")
    for name, options in (("health file", {}), ("health + metrics", {"metrics_port": 0})):
        ops.configure(health_file=health_file, **options)
        ops.worker_process_started("q#0")
        try:
            print(f"{name:<18} {per_message():6.1f} µs/message")
        finally:
            ops.shutdown()


if __name__ == "__main__":
    main()
