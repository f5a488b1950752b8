"""The benchmark harness still runs: ``bench/run.py --quick`` produces every figure.

Only that it produces them; no timing is asserted (SPEC section 9 figures are measured
by the full run, never by the tests). Takes ~45 s; skipped without psutil (the bench extra).
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytest.importorskip("psutil")

FIGURES = [
    "send_rpm",
    "send_many_rpm",
    "drain_rate_c1",
    "drain_rpm_c1",
    "drain_cpu_c1",
    "fifo_group_rate",
    "fifo_group_rpm",
    "fifo_trickle_rate",
    "drain_rate_c2",
    "drain_rpm_c2",
    "drain_cpu_c2",
    "idle_c1",
    "idle_c2",
    "latency_p50",
    "latency_p95",
    "threads_rate",
    "threads_rpm",
    "threads_pss",
    "threads_uss",
    "idle_t8",
    "idle_priority",
    "priority_latency_p50",
    "priority_inversions",
    "sigterm_idle_c1",
    "sigterm_idle_c2",
    "sigterm_idle_t8",
    "sigterm_busy",
]


def test_quick_bench_produces_every_figure(tmp_path):
    out = tmp_path / "bench.json"
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--quick", "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=180,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    document = json.loads(out.read_text())
    summary = document["summary"]
    for figure in FIGURES:
        assert summary[figure]["django_sqs"]["median"] is not None, figure
    # Each figure beside its baseline measured in the same run, as a ratio.
    for figure in (
        "drain_rate_c1", "drain_rpm_c1", "drain_cpu_c1", "fifo_group_rate", "latency_p50", "sigterm_busy",
        "threads_rate", "threads_pss", "idle_t8", "idle_priority", "priority_latency_p50", "sigterm_idle_t8",
    ):
        assert summary[figure]["baseline"]["median"] is not None, figure
        assert summary[figure]["ratio"]["median"] is not None, figure
    # Every message of the priority case started, once: the order was recorded.
    assert document["results"]["priority_order_starts"]["django_sqs"] == [80]
    # Counting is exact, so these are figures, not timings: one request per send,
    # one per ten with send_many.
    assert summary["send_rpm"]["django_sqs"]["median"] == 1.0
    assert summary["send_many_rpm"]["django_sqs"]["median"] == 0.1
    assert document["results"]["memory_c1"]["django_sqs"][0]["worker_peak_rss"] > 0
    # The Django tasks case: enqueue_many batches by ten; the drain is measured beside the receiver's.
    tasks = document["tasks"]
    assert tasks["task_enqueue_many_rpm"]["django_sqs"]["median"] == 0.1
    assert tasks["task_drain_rate/drain_rate_c1/django_sqs"]["ratio"]["median"] > 0
    assert "Django tasks (django_sqs.tasks)" in result.stdout
    assert "figure" in result.stdout and "baseline (same run)" in result.stdout
    # The table bench/RESULTS.md and docs/benchmarks.rst show is rendered from the same file.
    table = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--table", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert table.returncode == 0, table.stderr[-3000:]
    lines = table.stdout.splitlines()
    assert lines[0] == "| figure | django_sqs | baseline (same run) | ratio | goal | met |"
    drain = next(line for line in lines if line.startswith("| drain, 1 worker: messages per second"))
    assert "loop: " in drain and "× |" in drain
    assert any(line.startswith("| memory (MB, medians) |") for line in lines)
