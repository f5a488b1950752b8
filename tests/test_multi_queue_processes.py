"""Many queues in one worker process (issue 18, SPEC §13), in real processes against the
real local SQS server: idle pick-up on every priority level and every queue of a weighted
group, the idle bill per queue, strict order under backlogs, weighted shares, what an empty
queue costs, FIFO groups, stops, kills and limits with several queues in one process."""

from __future__ import annotations

import json
import os
import signal
import time
from collections import Counter

import pytest

from django_sqs import send, send_many
from tests.processes import ReceiverProcess, wait_until
from tests.queue_helpers import counts
from tests.test_ops_processes import metrics_url, scrape
from tests.test_threads_priority import PRIORITY, check_fifo_groups, inversions
from tests.test_worker_processes_hardening import nothing_in_flight, unfinished

IDLE = {"DJANGO_SQS_TEST_POLL": "20"}


def started(worker):
    worker.wait_for(lambda: "worker started" in worker.log(), message="the worker to start")


def pick_up(worker, queue: str, n: int) -> float:
    """Send one message to ``queue`` and return how long until its receiver started."""
    sent = time.time()
    send(queue, body={"n": n})
    entry = worker.wait_for(
        lambda: next((r for r in worker.records(phase="start") if r["body"]["n"] == n), None), 10,
        message=f"the message on {queue}",
    )
    return entry["t"] - sent


def receives_by_queue(url: str) -> dict[str, float]:
    got: dict[str, float] = {}
    for s in scrape(url):
        if s.name == "django_sqs_requests_total" and s.labels["action"] == "ReceiveMessage":
            got[s.labels["queue"]] = got.get(s.labels["queue"], 0) + s.value
    return got


def worker_queues(url: str) -> set[tuple[str, str, str]]:
    return {
        (s.labels["queue"], s.labels["worker"], s.labels["mode"])
        for s in scrape(url)
        if s.name == "django_sqs_worker_queues" and s.value == 1
    }


# -- idle: a long poll open on every queue --------------------------------------------------


@pytest.mark.slow
def test_idle_priority_worker_picks_up_every_level_at_once(server, tmp_path):
    with ReceiverProcess(tmp_path, server.url, *PRIORITY, "--priority", env=IDLE) as worker:
        started(worker)
        time.sleep(2)
        server.reset_counts()
        time.sleep(6)  # idle, inside the 20 s long polls
        idle_receives = server.counts().get("ReceiveMessage", 0)
        # The lowest level first: with only the top queue long-polled it would wait up to 20 s.
        latencies = {name: pick_up(worker, name, n) for n, name in enumerate(reversed(PRIORITY))}
        worker.signal(signal.SIGTERM)
        stopping = time.monotonic()
        assert worker.wait(10) == 0
        assert time.monotonic() - stopping < 3  # three long polls out, abandoned at once
    assert idle_receives <= 3, f"{idle_receives} receives in 6 s of idling with a 20 s poll on 3 queues"
    assert all(seconds < 1 for seconds in latencies.values()), latencies
    for name in PRIORITY:
        nothing_in_flight(f"t__{name}")


@pytest.mark.slow
def test_idle_weighted_worker_picks_up_every_queue_at_once(server, tmp_path):
    args = (*PRIORITY, "--weights", "prio_high=3,prio_mid=2,prio_low=1")
    with ReceiverProcess(tmp_path, server.url, *args, env=IDLE) as worker:
        started(worker)
        time.sleep(2)
        latencies = {name: pick_up(worker, name, n) for n, name in enumerate(PRIORITY)}
        # Each queue again, now that each was picked up once (its long poll re-opened).
        latencies.update({f"{name} again": pick_up(worker, name, 10 + n) for n, name in enumerate(PRIORITY)})
        worker.signal(signal.SIGTERM)
        assert worker.wait(10) == 0
    assert all(seconds < 1 for seconds in latencies.values()), latencies


@pytest.mark.slow
def test_idle_bill_is_one_long_poll_per_queue_and_poll_period(server, tmp_path):
    env = {"DJANGO_SQS_TEST_POLL": "2"}
    with ReceiverProcess(tmp_path, server.url, *PRIORITY, "--together", "--metrics-port", "0", env=env) as worker:
        url = metrics_url(worker)
        started(worker)
        time.sleep(3)
        before = receives_by_queue(url)
        time.sleep(10)  # five poll periods
        after = receives_by_queue(url)
        serving = worker_queues(url)
        worker.signal(signal.SIGTERM)
        assert worker.wait(10) == 0
    for name in PRIORITY:
        made = after.get(f"t__{name}", 0) - before.get(f"t__{name}", 0)
        assert 4 <= made <= 6, f"{made} receives on t__{name} in 10 s with a 2 s poll period"
    # The metrics name the queues of each worker, and how it serves them.
    assert serving == {(f"t__{n}", "t__prio_high+t__prio_mid+t__prio_low", "weighted") for n in PRIORITY}


# -- busy -----------------------------------------------------------------------------------


def test_strict_order_with_backlogs_on_every_level(server, tmp_path):
    for name in reversed(PRIORITY):
        send_many(name, [{"sleep": 0.05, "n": i} for i in range(30)])
    with ReceiverProcess(tmp_path, server.url, *PRIORITY, "--priority", "--threads", "2", "--burst") as worker:
        assert worker.wait(90) == 0
        starts = worker.records(phase="start")
    assert len(starts) == 90
    ranks = {f"t__{n}": r for r, n in enumerate(PRIORITY)}
    assert inversions(starts, ranks) <= 2  # at most what two threads had in hand together


def test_strict_order_when_backlogs_arrive_at_an_idle_worker(server, tmp_path):
    """The lower levels' long polls are open when the backlogs come: messages of a higher
    level that the worker holds still start before every lower one it holds."""
    with ReceiverProcess(tmp_path, server.url, *PRIORITY, "--priority", env=IDLE) as worker:
        started(worker)
        time.sleep(1)
        send_many("prio_low", [{"sleep": 0.3, "n": i} for i in range(10)])
        worker.wait_for(lambda: worker.records(phase="start"), message="the first low message")
        send_many("prio_mid", [{"n": 100 + i} for i in range(5)])
        send_many("prio_high", [{"n": 200 + i} for i in range(5)])
        worker.wait_for(lambda: len(worker.records(phase="end")) == 20, 30, message="all handled")
        worker.signal(signal.SIGTERM)
        assert worker.wait(10) == 0
        starts = sorted(worker.records(phase="start"), key=lambda r: r["t"])
    order = [r["queue"] for r in starts]
    first_other = next(i for i, q in enumerate(order) if q != "t__prio_low")
    # Once the others arrived, the low messages still waiting in the worker wait for them.
    later = order[first_other:]
    assert later.count("t__prio_high") == 5 and later.count("t__prio_mid") == 5
    last_high = max(i for i, q in enumerate(later) if q == "t__prio_high")
    last_mid = max(i for i, q in enumerate(later) if q == "t__prio_mid")
    # At most the low message in hand when they came, and one fetched with them, between.
    assert later[: last_high + 1].count("t__prio_low") <= 2, order
    assert later[: last_mid + 1].count("t__prio_low") <= 2, order


@pytest.mark.slow
def test_weighted_shares_with_every_queue_backlogged(server, tmp_path):
    for name in PRIORITY:
        send_many(name, [{"n": i} for i in range(400)])
    args = (*PRIORITY, "--weights", "prio_high=3,prio_mid=2,prio_low=1", "--message-limit", "600")
    with ReceiverProcess(tmp_path, server.url, *args) as worker:
        assert worker.wait(120) == 0
        got = Counter(r["queue"] for r in worker.records(phase="start"))
    assert sum(got.values()) == 600
    for name, weight in zip(PRIORITY, (3, 2, 1), strict=True):
        share = got[f"t__{name}"] / 600
        assert abs(share - weight / 6) <= 0.1 * weight / 6, got


@pytest.mark.slow
def test_an_empty_queue_in_a_group_costs_its_long_poll_only(server, tmp_path):
    send_many("work", [{"sleep": 0.02, "n": i} for i in range(300)])
    env = {"DJANGO_SQS_TEST_POLL": "2"}
    args = ("work", "prio_low", "--together", "--metrics-port", "0")
    with ReceiverProcess(tmp_path, server.url, *args, env=env) as worker:
        url = metrics_url(worker)
        began = time.monotonic()
        worker.wait_for(lambda: len(worker.records(phase="end")) == 300, 120, message="the backlog drained")
        busy = time.monotonic() - began
        made = receives_by_queue(url)
        worker.signal(signal.SIGTERM)
        assert worker.wait(10) == 0
    assert made.get("t__work", 0) >= 30  # the busy queue: a receive per ten messages
    allowed = busy / 2 + 2  # one 2 s long poll after another, plus the first look
    assert made.get("t__prio_low", 0) <= allowed, f"{made} in {busy:.1f}s"


def test_fifo_groups_kept_across_queues_and_threads(server, tmp_path):
    for group in "abc":
        send_many("groups.fifo", [{"sleep": 0.4, "n": i, "g": group} for i in range(4)], group_id=group)
    send_many("work", [{"sleep": 0.2, "n": i} for i in range(12)])
    args = ("groups.fifo", "work", "--together", "--threads", "3", "--burst")
    with ReceiverProcess(tmp_path, server.url, *args) as worker:
        assert worker.wait(60) == 0
        records = worker.records()
    check_fifo_groups([r for r in records if r["queue"] == "t__groups.fifo"])
    assert len([r for r in records if r["queue"] == "t__work" and r["phase"] == "end"]) == 12


# -- stops, kills, limits ------------------------------------------------------------------------


def test_sigterm_with_messages_in_hand_on_several_queues(server, tmp_path):
    send_many("work", [{"sleep": 2, "n": i} for i in range(10)])
    send_many("prio_low", [{"sleep": 2, "n": 100 + i} for i in range(10)])
    args = ("work", "prio_low", "--together", "--threads", "4")
    with ReceiverProcess(tmp_path, server.url, *args, env=IDLE) as worker:
        worker.wait_for(
            lambda: {r["queue"] for r in worker.records(phase="start")} == {"t__work", "t__prio_low"}
            and len(worker.records(phase="start")) >= 4,
            message="messages of both queues in hand",
        )
        worker.signal(signal.SIGTERM)
        stopping = time.monotonic()
        assert worker.wait(15) == 0
        assert time.monotonic() - stopping < 5  # the messages in hand take 2 s
        assert not unfinished(worker), worker.log()
        ended = Counter(r["queue"] for r in worker.records(phase="end"))
    for name, total in (("t__work", 10), ("t__prio_low", 10)):
        nothing_in_flight(name)
        assert counts(name) == (total - ended[name], 0)


def test_message_limit_counts_across_the_queues_of_one_process(server, tmp_path):
    for name in PRIORITY:
        send_many(name, [{"n": i} for i in range(10)])
    with ReceiverProcess(tmp_path, server.url, *PRIORITY, "--together", "--message-limit", "7") as worker:
        assert worker.wait(30) == 0
        handled = len(worker.records(phase="end"))
    assert handled == 7
    for name in PRIORITY:
        nothing_in_flight(f"t__{name}")
    assert sum(counts(f"t__{name}")[0] for name in PRIORITY) == 23


def test_a_killed_weighted_worker_is_restarted_and_nothing_is_lost(server, tmp_path):
    send_many("work", [{"sleep": 0.3, "n": i} for i in range(10)])
    send_many("prio_low", [{"sleep": 0.3, "n": 100 + i} for i in range(10)])
    args = ("work", "prio_low", "--together", "--concurrency", "2")
    with ReceiverProcess(tmp_path, server.url, *args) as worker:
        worker.wait_for(lambda: len({r["pid"] for r in worker.records(phase="start")}) == 2, message="both busy")
        os.kill(worker.records(phase="start")[0]["pid"], signal.SIGKILL)
        worker.wait_for(lambda: "child died queue=t__work+t__prio_low#" in worker.log(), message="death logged")
        worker.wait_for(lambda: worker.log().count("child started queue=t__work+t__prio_low#") == 3, message="restart")
        # The others drain both queues; the killed child's messages stay hidden until their
        # visibility timeout (60 s) and then run again: nothing is lost.
        worker.wait_for(lambda: all(counts(q)[0] == 0 for q in ("t__work", "t__prio_low")), 60, message="drained")
        worker.signal(signal.SIGTERM)
        assert worker.wait(15) == 0
        done = {r["body"]["n"] for r in worker.records(phase="end")}
    in_sqs = sum(sum(counts(q)) for q in ("t__work", "t__prio_low"))  # given back, or the killed child's
    assert len(done) + in_sqs >= 20


# -- SQS_WORKERS in one supervisor -------------------------------------------------------------------


def test_sqs_workers_groups_run_under_one_supervisor(server, tmp_path):
    workers = [
        {"name": "levels", "queues": list(PRIORITY), "mode": "priority"},
        {"name": "small", "queues": ["work", "groups.fifo"], "threads": 2},
    ]
    env = {**IDLE, "DJANGO_SQS_TEST_WORKERS": json.dumps(workers)}
    health = tmp_path / "health.json"
    args = ("--group", "levels", "--group", "small", "--health-file", str(health))
    with ReceiverProcess(tmp_path, server.url, *args, env=env) as worker:
        wait_until(lambda: worker.log().count("worker started") == 2, 30, log=worker.log)
        # Each worker process's health file is named after its group and names its queues.
        files = wait_until(
            lambda: (lambda f: len(f) == 2 and all(d.get("queues") for d in f.values()) and f)({
                name: json.loads(p.read_text())
                for name in ("levels", "small")
                if (p := tmp_path / f"health.json.{name}-0").exists() and p.read_text()
            }),
            10, log=worker.log,
        )
        assert set(files["levels"]["queues"]) == {f"t__{n}" for n in PRIORITY}
        assert set(files["small"]["queues"]) == {"t__work", "t__groups.fifo"}
        assert files["small"]["label"] == "small#0"
        assert len(worker.child_pids()) == 2
        log = worker.log()
        assert "group=levels" in log and "group=small" in log
        assert "mode=priority" in log and "mode=weighted" in log
        time.sleep(1)
        latencies = [pick_up(worker, "prio_low", 1), pick_up(worker, "work", 2)]
        pids = {r["queue"]: r["pid"] for r in worker.records(phase="start")}
        worker.signal(signal.SIGTERM)
        assert worker.wait(10) == 0
    assert pids["t__prio_low"] != pids["t__work"]  # two groups, two processes
    assert all(seconds < 1 for seconds in latencies), latencies
