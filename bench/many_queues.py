"""Many queues in one worker (issue 18, SPEC §13): the cases ``bench/run.py`` runs for it.

- pick-up (send → receiver starts) on an idle worker, p50 and p95, for each level of a
  ``--priority`` worker on three queues and each queue of a ``--weights 3,2,1`` worker,
  against a one-queue worker in the same run;
- idle requests per minute on each queue of those two kinds of worker (counted over the
  whole run, in the background of the other cases), against a one-queue worker;
- memory (PSS) of one ``--together`` worker serving ten queues against ten forked workers
  (``runreceiver`` with ten queue names and no flag: one process per queue, the tree's
  PSS), and against one plain worker on one queue (``many_ten_worker_pss``);
- the drain of ten queues × ``many_backlog`` messages by that one worker against the ten.
"""

from __future__ import annotations

import json
import sys
import time

from bench.queues import MANY, PRIORITY_IDLE, PRIORITY_LATENCY, WEIGHTED_IDLE, WEIGHTED_LATENCY

WEIGHTS = "wlat_a=3,wlat_b=2,wlat_c=1"


def worker(bench, queues, names, flags, env=None, label=""):
    """``runreceiver QUEUES FLAGS``, each queue mapped to its SQS queue in ``names``."""
    from bench.run import PREFIX, Proc

    urls = json.dumps({PREFIX + q: bench.url(n) for q, n in zip(queues, names, strict=True)})
    args = [sys.executable, "-m", "django", "runreceiver", *queues, *flags]
    env = {**bench.env, **(env or {}), "BENCH_QUEUE_URLS": urls}
    return Proc(args, env, bench._log_path(label or f"runreceiver-{'+'.join(queues)}"))


def settled(bench, names, before, procs) -> None:
    """Every queue asked once: the worker is in its long polls."""
    for name in names:
        bench.wait_receives(name, before[name], 1, procs)
    time.sleep(0.5)


# -- pick-up -----------------------------------------------------------------------------------
def case_pickup(bench, run: int, kinds=("single", "priority", "weighted")) -> dict:
    from bench.run import BASE, DS, percentile, wait_for

    plan = [
        ("single", ("latency",), []),
        ("priority", PRIORITY_LATENCY, ["--priority"]),
        ("weighted", WEIGHTED_LATENCY, ["--weights", WEIGHTS]),
    ]
    plan = [p for p in plan if p[0] in kinds]
    figures: dict = {}
    for kind, queues, flags in plan[run % 3 :] + plan[: run % 3]:
        names = [bench.fresh(DS, q) for q in queues]
        record = bench.workdir / f"many-pickup-{kind}-{run}.txt"
        record.write_text("")
        before = {n: bench.counts(n) for n in names}
        proc = worker(bench, queues, names, flags, {"BENCH_RECORD": str(record)})
        try:
            settled(bench, names, before, [proc])
            seen = 0
            # The lowest level first: the one a worker that long-polls only the top would miss.
            for level, name in reversed(list(enumerate(names))):
                url = bench.url(name)
                for _ in range(bench.cfg.latency_samples):
                    bench.client.send_message(QueueUrl=url, MessageBody=repr(time.time()))
                    seen += 1
                    wait_for(lambda s=seen, r=record: len(r.read_text().splitlines()) >= s, 10, 0.005, "the receiver to start")
                    time.sleep(0.1)  # back in its long polls: an idle worker again
                lines = record.read_text().splitlines()[seen - bench.cfg.latency_samples : seen]
                samples = [(float(b) - float(a)) * 1000 for a, b in (line.split() for line in lines)]
                figures[(kind, level)] = percentile(samples, 50), percentile(samples, 95)
        finally:
            proc.stop()
    if len(plan) < 3:
        return figures  # a partial run (an A/B comparison by hand): nothing recorded
    single = figures[("single", 0)]
    for kind, queues, _ in plan[1:]:
        for level, queue in enumerate(queues):
            for i, p in enumerate(("p50", "p95")):
                bench.record(f"many_pickup_{kind}_{queue}_{p}", DS, figures[(kind, level)][i])
                bench.record(f"many_pickup_{kind}_{queue}_{p}", BASE, single[i])
    return figures


# -- idle bill (in the background of the other cases) -------------------------------------------
def idle_start(bench) -> None:
    from bench.run import DS

    bench._many_idle = []
    for kind, queues, flags in (
        ("single", ("idle",), []),
        ("priority", PRIORITY_IDLE, ["--priority"]),
        ("weighted", WEIGHTED_IDLE, ["--together"]),
    ):
        names = [bench.fresh(DS, q) for q in queues]
        before = {n: bench.counts(n) for n in names}
        proc = worker(bench, queues, names, flags)
        bench._many_idle.append((kind, queues, names, before, proc))
    for _kind, _queues, names, before, proc in bench._many_idle:
        settled(bench, names, before, [proc])
    bench._many_idle_start = time.time()


def idle_finish(bench, minimum: float) -> None:
    from bench.run import BASE, DS, log

    left = bench._many_idle_start + minimum - time.time()
    if left > 1:
        log(f"  waiting {left:.0f} s more for the many-queue idle window")
        time.sleep(left)
    end = time.time()
    minutes = (end - bench._many_idle_start) / 60
    names = tuple(n for *_, ns, _, _ in bench._many_idle for n in ns)
    arrivals = bench.server.stats(arrivals=names)["arrivals"]
    per_queue = {}
    for kind, queues, ns, _, proc in bench._many_idle:
        for queue, name in zip(queues, ns, strict=True):
            hits = [t for t in arrivals.get(name, []) if bench._many_idle_start <= t < end]
            per_queue[(kind, queue)] = len(hits) / minutes
        proc.stop()
    single = per_queue[("single", "idle")]
    for (kind, queue), rpm in per_queue.items():
        if kind != "single":
            bench.record(f"many_idle_rpm_{kind}_{queue}", DS, rpm)
            bench.record(f"many_idle_rpm_{kind}_{queue}", BASE, single)
    bench.results["many_idle_minutes"] = minutes


# -- ten queues: memory and drain ----------------------------------------------------------------
def case_ten_queues(bench, run: int) -> None:
    """One ``--together`` worker on ten queues against ``runreceiver`` forking one worker per
    queue: memory once settled, then the drain of ten held backlogs released at once."""
    from bench.run import BASE, DS, cpu_seconds, wait_for

    n = bench.cfg.many_backlog
    plan = [(DS, ["--together"]), (BASE, [])]
    for kind, flags in plan if run % 2 == 0 else plan[::-1]:
        names = [bench.fresh(kind, q) for q in MANY]
        for name in names:
            bench.fill(name, n)
            bench.server.hold(name)
        before = {name: bench.counts(name) for name in names}
        proc = worker(bench, MANY, names, flags, label=f"ten-queues-{kind}")
        try:
            settled(bench, names, before, [proc])
            cpu_before = cpu_seconds(proc.pid)
            released = time.time()
            for name in names:
                bench.server.release(name)
            wait_for(lambda ns=names: all(bench.server.depth(nm) == 0 for nm in ns), 600, 0.05, "ten queues drained")
            cpu = cpu_seconds(proc.pid) - cpu_before
            stats = bench.server.stats()
            last = max(stats["last"][nm].get(a, 0) for nm in names for a in ("DeleteMessage", "DeleteMessageBatch"))
            requests = sum(sum(bench.diff(bench.counts(nm, stats), before[nm]).values()) for nm in names)
            memory = bench._tree_memory([proc])  # after the drain: warmed up, as in service
        finally:
            proc.stop()
        total = n * len(names)
        bench.record("many_ten_rate", kind, total / (last - released))
        bench.record("many_ten_rpm", kind, requests / total)
        bench.record("many_ten_cpu", kind, cpu / total * 1000)
        bench.record("many_ten_tree_pss", kind, memory["tree_pss"])
        bench.record("many_ten_processes", kind, len(memory["processes"]))
        if kind == DS:
            bench.record("many_ten_worker_pss", DS, memory["tree_pss"])
    # "One worker": a plain runreceiver on one queue, drained the same way (a forked child's
    # PSS shares its parent's pages, so it is not the figure to compare with).
    name = bench.fresh(BASE, MANY[0])
    bench.fill(name, n)
    bench.server.hold(name)
    before = {name: bench.counts(name)}
    proc = worker(bench, MANY[:1], [name], [], label="one-queue")
    try:
        settled(bench, [name], before, [proc])
        bench.server.release(name)
        wait_for(lambda: bench.server.depth(name) == 0, 600, 0.05, "one queue drained")
        bench.record("many_ten_worker_pss", BASE, bench._tree_memory([proc])["tree_pss"])
    finally:
        proc.stop()


# -- the table ---------------------------------------------------------------------------------------
def lines(results: dict) -> list[str]:
    """``figure: django_sqs (baseline) ratio`` for each many-queue figure, medians of the runs."""
    from bench.run import BASE, DS, median

    out = ["Many queues in one worker (issue 18), medians; baseline in brackets:"]
    for key in sorted(k for k in results if k.startswith("many_") and isinstance(results[k], dict)):
        mine, base = results[key].get(DS), results[key].get(BASE)
        if not mine:
            continue
        m = median(mine)
        if base:
            b = median(base)
            out.append(f"  {key}: {m:.3f} ({b:.3f}) ratio {m / b:.2f}" if b else f"  {key}: {m:.3f} ({b})")
        else:
            out.append(f"  {key}: {m:.3f}")
    if "many_idle_minutes" in results:
        out.append(f"  idle window: {results['many_idle_minutes']:.1f} min")
    return out
