"""The hardened worker in real processes against the real local SQS server (issue 10):
signals as process managers deliver them, kills, long polls and short visibility timeouts."""

from __future__ import annotations

import re
import signal
import time

import pytest
from django.core.management import call_command

from django_sqs import send, send_many
from tests.processes import ReceiverProcess, TCPProxy, alive, wait_until
from tests.queue_helpers import counts
from tests.receivers import calls

#: Log wording that reads like a failure; a clean stop must show none of it.
FAILURE_WORDING = re.compile(r"code=3|exit code|died|crash|Traceback|ERROR|failed", re.IGNORECASE)


def nothing_in_flight(queue: str, within: float = 3.0, log: str = "") -> None:
    """After a clean exit nothing fetched stays hidden. What SQS handed to an abandoned
    long poll comes back within ``polling.LONG_POLL_VISIBILITY`` (2 s): allow 3 s."""
    wait_until(
        lambda: counts(queue)[1] == 0, within, message=f"nothing in flight on {queue}", log=lambda: f"{counts(queue)}\n{log}"
    )


def unfinished(worker: ReceiverProcess) -> set[str]:
    return {r["id"] for r in worker.records(phase="start")} - {r["id"] for r in worker.records(phase="end")}


# -- 1: one stop, however it is delivered ------------------------------------------------------


def test_group_wide_sigterm_is_one_stop(server, tmp_path):
    """systemd's KillMode=control-group: the supervisor and every child get SIGTERM at once.
    Each child finishes its message in hand, gives back the others, and all exit 0."""
    send_many("work", [{"sleep": 2, "n": i} for i in range(30)])
    with ReceiverProcess(tmp_path, server.url, "work", "--concurrency", "2", start_new_session=True) as worker:
        worker.wait_for(lambda: len({r["pid"] for r in worker.records(phase="start")}) == 2, message="both children busy")
        worker.killpg(signal.SIGTERM)
        assert worker.wait(20) == 0
        assert not unfinished(worker), f"abandoned in hand: {unfinished(worker)}\n{worker.log()}"
        assert "second signal" not in worker.log()
        nothing_in_flight("t__work")
        visible, _ = counts("t__work")
        assert visible + len(worker.records(phase="end")) == 30


def test_deliberate_second_signal_after_a_group_wide_stop_exits_at_once(server, tmp_path):
    send_many("work", [{"sleep": 30, "n": i} for i in range(30)])
    with ReceiverProcess(tmp_path, server.url, "work", "--concurrency", "2", start_new_session=True) as worker:
        worker.wait_for(lambda: len({r["pid"] for r in worker.records(phase="start")}) == 2, message="both children busy")
        children = worker.child_pids()
        worker.killpg(signal.SIGTERM)
        time.sleep(2)  # an operator's second signal, well after the first
        assert worker.process.poll() is None  # still finishing the messages in hand
        worker.killpg(signal.SIGTERM)
        assert worker.wait(5) != 0
        wait_until(lambda: not any(alive(p) for p in children), 5, message="children gone")
        assert not worker.records(phase="end")


def test_deliberate_second_sigint_exits_at_once_and_the_first_says_what_it_finishes(server, tmp_path):
    msg_id = send("work", body={"sleep": 30})
    with ReceiverProcess(tmp_path, server.url, "work") as worker:
        worker.wait_for(lambda: worker.records(phase="start"), message="the message to start")
        worker.signal(signal.SIGINT)
        log = worker.wait_for(lambda: (lambda text: text if "Ctrl-C" in text else None)(worker.log()), 10, message="the stop message")
        stop_line = next(line for line in log.splitlines() if "Ctrl-C" in line)
        assert msg_id in stop_line and "t__work" in stop_line  # what it finishes
        assert "exit" in stop_line  # a second Ctrl-C exits at once
        time.sleep(1.5)
        assert worker.process.poll() is None
        worker.signal(signal.SIGINT)
        assert worker.wait(5) == 128 + signal.SIGINT
        assert not worker.records(phase="end")


# -- 2, 24: a stop while the supervisor is still starting children -----------------------------


def test_sigterm_while_children_are_being_started(server, tmp_path):
    queues = ("work", "vt3", "echo")
    with ReceiverProcess(tmp_path, server.url, *queues, "--concurrency", "8") as worker:
        worker.wait_for(lambda: "child started" in worker.log(), 30, message="the first child")
        worker.signal(signal.SIGTERM)
        stopped = time.monotonic()
        assert worker.wait(15) == 0
        assert time.monotonic() - stopped < 10
        log = worker.log()
        # The stop is handled once the child being forked exists (signals are blocked
        # around fork): the children it counts are all there will ever be.
        running = re.search(r"stopping on SIGTERM: (\d+) worker process", log)
        assert running, log
        assert log.count("child started") == int(running.group(1)), "a child was started after the stop began"
        assert log.count("child stopped") == int(running.group(1)), log
        started_pids = [int(p) for p in re.findall(r"child started .*pid=(\d+)", log)]
        assert started_pids
        wait_until(lambda: not any(alive(p) for p in started_pids), 10, message="every child gone")
        assert not FAILURE_WORDING.search(log), log


# -- 3: a stop mid-drain leaves nothing in flight ---------------------------------------------


@pytest.mark.parametrize("threads", ["1", "4"])
def test_sigterm_mid_drain_leaves_nothing_in_flight(server, tmp_path, threads):
    """Stopped mid-drain, again and again (a stop lands at a different instant each time:
    before a receive, while its answer is read, between messages): after each clean exit
    nothing this worker fetched stays hidden, and no long poll was waited out."""
    total = 400
    send_many("work", [{"n": i} for i in range(total)])
    env = {"DJANGO_SQS_TEST_POLL": "20", "DJANGO_SQS_LOG_LEVEL": "WARNING"}
    options = ("--threads", threads) if threads != "1" else ()  # the default: as before --threads
    done: set[str] = set()
    for round_ in range(4):
        with ReceiverProcess(tmp_path, server.url, "work", *options, env=env) as worker:
            worker.wait_for(lambda: len(worker.records(phase="end")) >= 40, 60, message=f"round {round_} under way")
            worker.signal(signal.SIGTERM)
            stopped = time.monotonic()
            assert worker.wait(15) == 0
            assert time.monotonic() - stopped < 3  # no long poll waited out
            assert not unfinished(worker)
            done |= {r["id"] for r in worker.records(phase="end")}
        nothing_in_flight("t__work")
        assert counts("t__work") == (total - len(done), 0), f"round {round_}"


# -- 4: a message arriving mid long poll on a short visibility timeout --------------------------


@pytest.mark.parametrize("queue", ["vt3", "vt1"])
def test_message_arriving_mid_long_poll_runs_with_a_short_visibility_timeout(server, tmp_path, queue):
    env = {"DJANGO_SQS_TEST_POLL": "20"}
    with ReceiverProcess(tmp_path, server.url, queue, env=env) as worker:
        worker.wait_for(lambda: "worker started" in worker.log(), message="the worker to start")
        time.sleep(5)  # well inside a 20 s long poll
        msg_id = send(queue, body={"n": 1})
        worker.wait_for(lambda: worker.records(phase="end"), 15, message="the message to run")
        assert worker.records(phase="end")[0]["id"] == msg_id
        assert "visibility ran out" not in worker.log()
        worker.signal(signal.SIGTERM)
        assert worker.wait(10) == 0


# -- 5: a 1-second visibility timeout at process level ---------------------------------------


def test_receiver_taking_three_one_second_visibility_timeouts_runs_once(server, tmp_path):
    send("vt1", body={"sleep": 3})
    with ReceiverProcess(tmp_path, server.url, "vt1") as worker:
        worker.wait_for(lambda: worker.records(phase="end"), 20, message="the message to end")
        time.sleep(2)  # past another visibility timeout: a redelivery would start now
        assert len(worker.records(phase="start")) == 1
        worker.signal(signal.SIGTERM)
        assert worker.wait(10) == 0
    assert counts("t__vt1") == (0, 0)


# -- 7: deletes go out within about a second ---------------------------------------------------


def test_killed_mid_batch_reruns_only_the_message_in_hand(server, tmp_path):
    ids = send_many("vt3", [{"sleep": 2, "n": i} for i in range(6)])
    with ReceiverProcess(tmp_path, server.url, "vt3") as worker:
        worker.wait_for(lambda: len(worker.records(phase="start")) >= 3, 30, message="the third message to start")
        time.sleep(1.2)  # the first two ended over a second ago; the third is in hand
        worker.signal(signal.SIGKILL)
        worker.wait(5)
        first_ended = {r["id"] for r in worker.records(phase="end")}
        in_hand = unfinished(worker)
    assert len(first_ended) >= 2 and len(in_hand) == 1
    time.sleep(3.5)  # what the killed worker held comes back after its visibility timeout
    calls.clear()
    call_command("runreceiver", "vt3", "--burst")
    rerun = {c["id"] for c in calls if c.get("phase") == "start"}
    assert not (rerun & first_ended), f"handled messages ran again: {rerun & first_ended}"
    assert first_ended | rerun == set(ids)


# -- 9: async def receivers at process level ---------------------------------------------------


def test_async_receiver_runs_in_a_worker_process(server, tmp_path):
    send_many("work_async", [{"sleep": 0.1, "n": i} for i in range(4)])
    with ReceiverProcess(tmp_path, server.url, "work_async", "--burst") as worker:
        assert worker.wait(30) == 0
        assert sorted(r["body"]["n"] for r in worker.records(phase="end")) == [0, 1, 2, 3]
    assert counts("t__work_async") == (0, 0)


# -- 23: a clean stop reads as one --------------------------------------------------------------


def test_clean_stop_of_a_supervisor_exits_0_without_failure_wording(server, tmp_path):
    with ReceiverProcess(tmp_path, server.url, "work", "echo", "--concurrency", "2") as worker:
        worker.wait_for(lambda: worker.log().count("worker started") == 4, 30, message="four workers")
        worker.signal(signal.SIGTERM)
        assert worker.wait(10) == 0
        log = worker.log()
    assert not FAILURE_WORDING.search(log), log


# -- 25: the banner ---------------------------------------------------------------------------


def test_banner_names_endpoint_region_and_full_queue_names(server, tmp_path):
    with ReceiverProcess(tmp_path, server.url, "work", "--burst") as worker:
        assert worker.wait(30) == 0
        log = worker.log()
    banners = [line for line in log.splitlines() if f"endpoint={server.url}" in line]
    assert banners, log
    assert "region=us-east-1" in banners[0] and "t__work" in banners[0]


def test_missing_credentials_are_named_as_such(server, tmp_path):
    worker = ReceiverProcess(tmp_path, server.url, "work", env={"AWS_EC2_METADATA_DISABLED": "true"})
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        worker.env.pop(name, None)
    with worker:
        worker.wait_for(lambda: "no AWS credentials found" in worker.log(), 20, message="the credentials error")
        assert "cannot reach SQS" not in worker.log()


def test_sigterm_while_a_receive_is_slow_to_answer_leaves_nothing_in_flight(server, tmp_path):
    """On a slow network (answers take a second) a stop almost always lands while a
    receive is on its way: what that receive brings must not stay hidden after the exit."""
    send_many("work", [{"n": i} for i in range(100)])
    proxy = TCPProxy(server.port)
    try:
        with ReceiverProcess(tmp_path, proxy.url, "work", env={"DJANGO_SQS_TEST_POLL": "20"}) as worker:
            worker.wait_for(lambda: len(worker.records(phase="end")) >= 20, 60, message="the drain under way")
            proxy.delay = 1.0
            time.sleep(1.5)  # the next receive is on its way now
            worker.signal(signal.SIGTERM)
            assert worker.wait(30) == 0
            done = {r["id"] for r in worker.records(phase="end")}
            assert not unfinished(worker)
            log = worker.log()
    finally:
        proxy.close()
    nothing_in_flight("t__work", log=log)
    assert counts("t__work") == (100 - len(done), 0), log
