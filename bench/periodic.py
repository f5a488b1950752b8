"""Periodic work, mode B (``runreceiver --schedules``): what it costs and how punctual it is.

    .venv/bin/python bench/periodic.py            # ~2.5 minutes
    .venv/bin/python bench/periodic.py --quick    # ~40 s
    (also: bench/run.py --periodic)

1. **Idle cost per supervisor and hour**: one firing loop with a schedule that is not due
   (daily at 03:00) for a simulated hour (the loop's clock runs ``SPEED`` times faster, its
   waits as many times shorter); counts its database queries and its SQS requests.
2. **Spread** between a tick's scheduled time and the start of its receiver (p50, p95):
   two ``runreceiver --schedules`` supervisors, a 1-second schedule, the receiver serving
   the target queue; every tick once (checked).

Against the local server (moto) and a SQLite file, or PostgreSQL when BENCH_PG_NAME names
a database.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.update({
    "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_CONFIG_FILE": "/nonexistent/aws-config", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
})
os.environ.pop("AWS_PROFILE", None)
os.environ["DJANGO_SETTINGS_MODULE"] = "bench.periodic_settings"

SPEED = 60  # the idle hour, simulated in a minute
IDLE_SCHEDULE = {"nightly": {"queue": "ticks", "cron": "0 3 * * *"}}
FAST_SCHEDULE = {"every-second": {"queue": "ticks", "every": 1, "catch_up": "all"}}


def log(text: str) -> None:
    print(text, flush=True)


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, max(0, round(p / 100 * len(values)) - 1))]


def setup(server_url: str, db: str, schedules: dict) -> None:
    os.environ.update(BENCH_SQS_ENDPOINT=server_url, BENCH_DB=db, BENCH_SCHEDULES=json.dumps(schedules))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", "django_sqs_schedules", verbosity=0)
    from django_sqs.periodic import claims

    claims.model().objects.all().delete()  # a previous run's ticks would be caught up


def idle_cost(server, minutes_real: float) -> dict:
    """One simulated hour of an idle firing loop: DB queries and SQS requests."""
    from django.db import connection

    from django_sqs.periodic.loop import Firer

    start_real = time.monotonic()
    start = dt.datetime.now(dt.timezone.utc)

    def clock():
        return start + (time.monotonic() - start_real) * SPEED * dt.timedelta(seconds=1)

    class Fast(Firer):
        def seconds_to_next(self):
            return super().seconds_to_next() / SPEED

    queries = []
    firer = Fast(claimant="bench", clock=clock)
    server.reset_counts()
    import threading

    def run():
        with connection.execute_wrapper(lambda execute, sql, *a: (queries.append(sql), execute(sql, *a))[1]):
            firer.run()

    thread = threading.Thread(target=run)
    thread.start()
    time.sleep(minutes_real * 60)
    firer.request_stop()
    thread.join(30)
    simulated_hours = (clock() - start).total_seconds() / 3600
    sqs = sum(server.counts().values())
    return {
        "simulated_hours": round(simulated_hours, 3),
        "db_queries_per_hour": round(len(queries) / simulated_hours, 1),
        "sqs_requests_per_hour": round(sqs / simulated_hours, 1),
    }


def spread(server, db: str, seconds: float, workdir: Path) -> dict:
    ticks_file = workdir / "ticks.jsonl"
    env = {
        **os.environ, "PYTHONPATH": str(ROOT), "BENCH_SQS_ENDPOINT": server.url, "BENCH_DB": db,
        "BENCH_SCHEDULES": json.dumps(FAST_SCHEDULE), "BENCH_TICKS_FILE": str(ticks_file), "BENCH_POLL_PERIOD": "20",
    }
    procs = []
    for i in range(2):
        logf = open(workdir / f"supervisor-{i}.log", "w")
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "django", "runreceiver", "ticks", "--schedules"],
            cwd=ROOT, env=env, stdout=logf, stderr=subprocess.STDOUT,
        ))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not all(
        "firing schedules=" in (workdir / f"supervisor-{i}.log").read_text() for i in range(2)
    ):
        time.sleep(0.2)
    first_measured = time.time() + 2  # after start-up
    time.sleep(seconds + 2)
    for p in procs:
        p.send_signal(signal.SIGTERM)
    for p in procs:
        p.wait(30)
    rows = [json.loads(line) for line in ticks_file.read_text().splitlines()] if ticks_file.exists() else []
    rows = [r for r in rows if r["tick"] >= first_measured]
    delays = [r["start"] - r["tick"] for r in rows]
    ticks = [r["tick"] for r in rows]
    if not delays:
        return {"ticks": 0}
    return {
        "ticks": len(ticks),
        "duplicates": len(ticks) - len(set(ticks)),
        "missed": int(max(ticks) - min(ticks) + 1 - len(set(ticks))),
        "start_delay_p50_ms": round(statistics.median(delays) * 1000, 1),
        "start_delay_p95_ms": round(percentile(delays, 95) * 1000, 1),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="shorter windows (~40 s)")
    options = parser.parse_args(argv)
    from django_sqs.localserver import LocalSQSServer

    workdir = Path(tempfile.mkdtemp(prefix="django-sqs-bench-periodic-"))
    db = str(workdir / "claims.sqlite3")
    with LocalSQSServer() as server:
        setup(server.url, db, IDLE_SCHEDULE)
        idle = idle_cost(server, 0.25 if options.quick else 1.0)
        log(f"mode B idle, per supervisor and hour: {idle['db_queries_per_hour']:.0f} database queries, "
            f"{idle['sqs_requests_per_hour']:.0f} SQS requests ({idle['simulated_hours']} h simulated at {SPEED}x)")
        punctual = spread(server, db, 10 if options.quick else 60, workdir)
        log(f"mode B, 2 supervisors, 1-second schedule: {punctual.get('ticks')} ticks, "
            f"{punctual.get('duplicates')} sent twice, {punctual.get('missed')} missed; scheduled time → receiver start "
            f"p50 {punctual.get('start_delay_p50_ms')} ms, p95 {punctual.get('start_delay_p95_ms')} ms")
    results = {"date": dt.date.today().isoformat(), "quick": options.quick, "idle": idle, "spread": punctual,
               "database": "postgresql" if os.environ.get("BENCH_PG_NAME") else "sqlite", "logs": str(workdir)}
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"latest-periodic{'-quick' if options.quick else ''}.json").write_text(json.dumps(results, indent=2))
    log(f"results: bench/results/latest-periodic{'-quick' if options.quick else ''}.json; logs: {workdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
