"""``runreceiver --threads`` and ``--priority`` in real processes against the real local SQS
server (issue 11, SPEC §10): one poller per queue, the bound on what a worker holds, the
idle bill and pick-up, priority order, FIFO groups, stops and kills with several threads."""

from __future__ import annotations

import signal
import time

from django.core.management import call_command

from django_sqs import send, send_many
from tests.processes import ReceiverProcess, wait_until
from tests.queue_helpers import counts
from tests.receivers import calls
from tests.test_threads_priority import PRIORITY, check_fifo_groups, inversions, max_overlap
from tests.test_worker_processes_hardening import nothing_in_flight, unfinished


def test_one_poller_per_queue_whatever_the_threads(server, tmp_path):
    env = {"DJANGO_SQS_TEST_POLL": "2"}
    with ReceiverProcess(tmp_path, server.url, "work", "--threads", "8", env=env) as worker:
        worker.wait_for(lambda: "worker started" in worker.log(), message="the worker to start")
        time.sleep(3)
        server.reset_counts()
        time.sleep(8)  # idle: one 2 s long poll after another
        receives = server.counts().get("ReceiveMessage", 0)
        worker.signal(signal.SIGTERM)
        stopped = time.monotonic()
        assert worker.wait(10) == 0
        assert time.monotonic() - stopped < 3  # idle, 8 threads: SIGTERM to exit ≤ 1 s
    assert 1 <= receives <= 6, f"{receives} receives in 8 s with a 2 s poll period"


def test_a_worker_holds_at_most_threads_plus_ten_beyond_those_in_hand(server, tmp_path):
    send_many("work", [{"sleep": 30, "n": i} for i in range(40)])
    with ReceiverProcess(tmp_path, server.url, "work", "--threads", "2") as worker:
        worker.wait_for(lambda: len(worker.records(phase="start")) == 2, message="two messages in hand")
        time.sleep(3)  # room for the poller to fetch more, were it to hoard
        visible, in_flight = counts("t__work")
        assert len(worker.records(phase="start")) == 2
        worker.signal(signal.SIGKILL)
        worker.wait(5)
    assert 2 <= in_flight <= 2 + 10, f"{in_flight} messages held by a worker with 2 threads"
    assert visible + in_flight == 40


def test_async_receivers_count_against_threads_in_a_worker_process(server, tmp_path):
    send_many("work_async", [{"sleep": 1, "n": i} for i in range(6)])
    with ReceiverProcess(tmp_path, server.url, "work_async", "--threads", "3", "--burst") as worker:
        assert worker.wait(30) == 0
        records = worker.records()
    assert len([r for r in records if r["phase"] == "end"]) == 6
    assert max_overlap(records) == 3


def test_idle_priority_worker_polls_little_and_picks_up_the_top_queue_at_once(server, tmp_path):
    env = {"DJANGO_SQS_TEST_POLL": "20"}
    with ReceiverProcess(tmp_path, server.url, *PRIORITY, "--priority", env=env) as worker:
        worker.wait_for(lambda: "worker started" in worker.log(), message="the worker to start")
        time.sleep(2)
        server.reset_counts()
        time.sleep(6)  # idle, inside the top queue's 20 s long poll
        idle_receives = server.counts().get("ReceiveMessage", 0)
        sent = time.time()
        send("prio_high", body={"n": 1})
        worker.wait_for(lambda: worker.records(phase="start"), 10, message="the top-queue message")
        picked_up = worker.records(phase="start")[0]["t"] - sent
        worker.signal(signal.SIGTERM)
        stopped = time.monotonic()
        assert worker.wait(10) == 0
        assert time.monotonic() - stopped < 3
    assert idle_receives <= 3, f"{idle_receives} receives in 6 s of idling with a 20 s poll"
    assert picked_up < 3, f"picked up after {picked_up:.1f}s"  # not after the long poll ran out


def test_priority_order_with_threads_in_a_worker_process(server, tmp_path):
    for name in reversed(PRIORITY):
        send_many(name, [{"sleep": 0.3, "n": i} for i in range(16)])
    with ReceiverProcess(tmp_path, server.url, *PRIORITY, "--priority", "--threads", "4", "--burst") as worker:
        assert worker.wait(60) == 0
        starts = worker.records(phase="start")
    assert len(starts) == 48
    ranks = {f"t__{n}": r for r, n in enumerate(PRIORITY)}
    # Messages started by different threads within a few milliseconds of each other were
    # already in hand together; anything later must be in strict queue order.
    waves = sorted(starts, key=lambda c: c["t"])
    late = [
        (a["queue"], b["queue"]) for i, a in enumerate(waves) for b in waves[i + 1 :]
        if ranks[b["queue"]] < ranks[a["queue"]] and b["t"] - a["t"] > 0.1
    ]
    assert not late, f"lower-priority messages started before higher ones: {late}"
    assert inversions(starts, ranks) <= 3  # at most the messages of one wave in hand


def test_fifo_groups_across_threads_in_a_worker_process(server, tmp_path):
    for group in "abc":
        send_many("groups.fifo", [{"sleep": 0.4, "n": i, "g": group} for i in range(4)], group_id=group)
    with ReceiverProcess(tmp_path, server.url, "groups.fifo", "--threads", "3", "--burst") as worker:
        assert worker.wait(60) == 0
        check_fifo_groups(worker.records())


def test_stop_with_messages_in_hand_on_several_threads(server, tmp_path):
    send_many("work", [{"sleep": 2, "n": i} for i in range(20)])
    with ReceiverProcess(tmp_path, server.url, "work", "--threads", "3") as worker:
        worker.wait_for(lambda: len(worker.records(phase="start")) == 3, message="three messages in hand")
        worker.signal(signal.SIGTERM)
        stopped = time.monotonic()
        assert worker.wait(15) == 0
        assert time.monotonic() - stopped < 5  # the messages in hand take 2 s
        assert not unfinished(worker), worker.log()
        ended = len(worker.records(phase="end"))
        assert ended == 3
    nothing_in_flight("t__work")
    assert counts("t__work") == (20 - ended, 0)


def test_group_wide_stop_of_supervised_children_with_several_threads(server, tmp_path):
    """KillMode=control-group with --concurrency 2 --threads 3: every message in hand on
    every thread finishes, the rest goes back, everything exits 0."""
    send_many("work", [{"sleep": 2, "n": i} for i in range(40)])
    args = ("work", "--concurrency", "2", "--threads", "3")
    with ReceiverProcess(tmp_path, server.url, *args, start_new_session=True) as worker:
        worker.wait_for(lambda: len(worker.records(phase="start")) >= 6, message="six messages in hand")
        worker.killpg(signal.SIGTERM)
        assert worker.wait(20) == 0
        assert not unfinished(worker), worker.log()
        assert "second signal" not in worker.log()
        ended = len(worker.records(phase="end"))
    nothing_in_flight("t__work")
    assert counts("t__work") == (40 - ended, 0)


def test_message_limit_across_threads_in_a_worker_process(server, tmp_path):
    send_many("work", [{"sleep": 0.3, "n": i} for i in range(20)])
    with ReceiverProcess(tmp_path, server.url, "work", "--threads", "4", "--message-limit", "6") as worker:
        assert worker.wait(30) == 0
        assert len(worker.records(phase="start")) == 6
        assert not unfinished(worker)
    nothing_in_flight("t__work")
    assert counts("t__work") == (14, 0)


def test_killed_process_with_several_threads_reruns_only_what_was_in_hand(server, tmp_path):
    ids = send_many("vt3", [{"sleep": 2, "n": i} for i in range(15)])
    with ReceiverProcess(tmp_path, server.url, "vt3", "--threads", "3") as worker:
        worker.wait_for(lambda: len(worker.records(phase="start")) >= 6, 30, message="the second wave to start")
        time.sleep(1.2)  # the first wave ended over a second ago; the second is in hand
        worker.signal(signal.SIGKILL)
        worker.wait(5)
        first_ended = {r["id"] for r in worker.records(phase="end")}
        in_hand = unfinished(worker)
    assert len(first_ended) >= 3 and 1 <= len(in_hand) <= 3
    time.sleep(3.5)  # what the killed worker held comes back after its visibility timeout
    calls.clear()
    call_command("runreceiver", "vt3", "--threads", "3", "--burst")
    rerun = {c["id"] for c in calls if c.get("phase") == "start"}
    assert not (rerun & first_ended), f"handled messages ran again: {rerun & first_ended}"
    assert first_ended | rerun == set(ids)
    wait_until(lambda: counts("t__vt3") == (0, 0), 5, message="the queue empty")
