"""Stops in real processes against the real local SQS server (issue 16 §2, §3; issue 17 §4):
the unstarted messages go back at once whatever the main thread is doing, and a stop ends
on time even when SQS never answers."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import time

import pytest

from django_sqs import send_many
from tests.processes import ReceiverProcess, TCPProxy, wait_until
from tests.queue_helpers import counts


def test_sigterm_gives_unstarted_messages_back_while_the_main_thread_runs_a_receiver(server, tmp_path):
    """With --threads 1 the main thread is the handler: the give-back must not wait for
    the receiver in hand (8 s here) to return."""
    send_many("work", [{"sleep": 8, "n": i} for i in range(4)])
    with ReceiverProcess(tmp_path, server.url, "work") as worker:
        worker.wait_for(lambda: worker.records(phase="start"), message="the first message to start")
        wait_until(lambda: counts("t__work") == (0, 4), 10, message="all four held by the worker", log=worker.log)
        worker.signal(signal.SIGTERM)
        signalled = time.monotonic()
        # Well within the receiver's 8 s: the three unstarted ones are visible again.
        wait_until(lambda: counts("t__work") == (3, 1), 4, message="three given back", log=worker.log)
        given_back = time.monotonic() - signalled
        assert worker.process.poll() is None and not worker.records(phase="end"), "still finishing the one in hand"
        assert worker.wait(20) == 0
        assert len(worker.records(phase="end")) == 1
        print(f"give-back delay after SIGTERM: {given_back:.2f}s")  # noqa: T201 (the figure of the report)
    assert counts("t__work") == (3, 0)


def test_sigterm_ends_on_time_when_sqs_never_answers(server, tmp_path):
    """An endpoint that accepts connections and never answers (a stopped server): the
    give-back, the last delete and a receive on its way each have a deadline, and the stop
    as a whole too: exit within the receiver in hand plus 10 s, saying what was left."""
    send_many("work", [{"sleep": 3, "n": i} for i in range(4)])
    proxy = TCPProxy(server.port)
    try:
        with ReceiverProcess(tmp_path, proxy.url, "work") as worker:
            worker.wait_for(lambda: worker.records(phase="start"), message="the first message to start")
            started = time.monotonic()
            proxy.hang()
            worker.signal(signal.SIGTERM)
            code = worker.wait(3 + 10 + 5)
            took = time.monotonic() - started
            log = worker.log()
            assert code == 0, log
            assert len(worker.records(phase="end")) == 1
            assert "stop deadline reached" in log, log
            print(f"SIGTERM to exit against a never-answering endpoint: {took:.1f}s")  # noqa: T201
    finally:
        proxy.close()


def test_health_file_says_stopping_as_soon_as_the_stop_is_decided(server, tmp_path):
    """The liveness probe turns unhealthy when the stop is decided, not after the message
    in hand (here 8 s long)."""
    health = tmp_path / "health.json"
    send_many("work", [{"sleep": 8}])
    with ReceiverProcess(tmp_path, server.url, "work", "--health-file", str(health)) as worker:
        worker.wait_for(lambda: worker.records(phase="start"), message="the message to start")
        worker.signal(signal.SIGTERM)

        def stopping():
            try:
                return json.loads(health.read_text()).get("stopping")
            except (OSError, ValueError):
                return None

        assert wait_until(stopping, 4, message="the health file to say stopping", log=worker.log) == "signal"
        assert worker.process.poll() is None and not worker.records(phase="end")
        assert worker.wait(20) == 0


# -- --burst exits only when its queues are drained (issue 16 §4) -------------------------------

SHORT_POLLS = {"DJANGO_SQS_TEST_POLL": "0"}


@pytest.mark.parametrize(
    ("groups", "per_group", "threads", "poll"),
    [
        ("abc", 5, "4", "1"),  # the reproduction: 3 groups × 5 messages of 0.1 s, 4 threads
        ("a", 12, "1", "1"),  # one group longer than a receive: its last ones wait behind the first ten
        ("abc", 10, "4", "0"),  # short polls: an empty answer is not padded by a wait
        ("a", 40, "1", "20"),  # fast: each receive's last delete is on its way as the next receive goes
    ],
)
def test_burst_drains_fifo_groups_of_fast_messages(server, tmp_path, groups, per_group, threads, poll):
    """A group's next message is held back by SQS while an earlier one is in flight (in
    hand, or its delete on its way): the worker must neither take a blocked group for an
    empty queue nor stall it."""
    for group in groups:
        send_many("groups.fifo", [{"sleep": 0.1, "n": i, "g": group} for i in range(per_group)], group_id=group)
    env = {"DJANGO_SQS_TEST_POLL": poll}
    with ReceiverProcess(tmp_path, server.url, "groups.fifo", "--threads", threads, "--burst", env=env) as worker:
        assert worker.wait(60) == 0
        ends = worker.records(phase="end")
        log = worker.log()
    assert counts("t__groups.fifo") == (0, 0), log
    for group in groups:
        assert [r["body"]["n"] for r in sorted(ends, key=lambda r: r["t"]) if r["group"] == group] == list(range(per_group))


def test_burst_waits_for_a_fifo_message_restarting_later(server, tmp_path):
    """a1, a2!, a3, a4: a2 raises RestartLater(delay=1) on its first run. Its group is
    blocked while it waits out the delay; the burst must wait too, then run a2, a3, a4."""
    bodies = [{"n": 1}, {"n": 2, "action": "restart_once", "delay": 1}, {"n": 3}, {"n": 4}]
    send_many("groups.fifo", bodies, group_id="A")
    with ReceiverProcess(tmp_path, server.url, "groups.fifo", "--burst", env=SHORT_POLLS) as worker:
        assert worker.wait(60) == 0
        ends = [r["body"]["n"] for r in sorted(worker.records(phase="end"), key=lambda r: r["t"])]
        log = worker.log()
    assert ends == [1, 2, 3, 4], log
    assert counts("t__groups.fifo") == (0, 0), log


# -- the signal table (issue 16 §5) --------------------------------------------------------------


def test_sighup_is_a_graceful_stop(server, tmp_path):
    send_many("work", [{"sleep": 3, "n": i} for i in range(4)])
    with ReceiverProcess(tmp_path, server.url, "work") as worker:
        worker.wait_for(lambda: worker.records(phase="start"), message="the first message to start")
        worker.signal(signal.SIGHUP)
        assert worker.wait(20) == 0
        assert len(worker.records(phase="end")) == 1, "the message in hand finished"
        assert "stopping on SIGHUP" in worker.log()
    assert counts("t__work") == (3, 0)


def test_terminal_sighup_to_the_whole_group_stops_a_supervisor_gracefully(server, tmp_path):
    """A closing terminal sends SIGHUP to the foreground process group: the supervisor
    (children lead groups of their own and get it forwarded) must stop like on SIGTERM."""
    send_many("work", [{"sleep": 2, "n": i} for i in range(20)])
    with ReceiverProcess(tmp_path, server.url, "work", "--concurrency", "2", start_new_session=True) as worker:
        worker.wait_for(lambda: len({r["pid"] for r in worker.records(phase="start")}) == 2, message="both children busy")
        os.killpg(worker.pid, signal.SIGHUP)
        assert worker.wait(20) == 0, worker.log()
        starts = {r["id"] for r in worker.records(phase="start")}
        assert starts == {r["id"] for r in worker.records(phase="end")}, "a message in hand was cut off"
    wait_until(lambda: counts("t__work")[1] == 0, 5, message="nothing in flight")


def test_sigquit_stops_at_once_and_still_gives_unstarted_messages_back(server, tmp_path):
    send_many("work", [{"sleep": 30, "n": i} for i in range(4)])
    with ReceiverProcess(tmp_path, server.url, "work") as worker:
        worker.wait_for(lambda: worker.records(phase="start"), message="the first message to start")
        wait_until(lambda: counts("t__work") == (0, 4), 10, message="all four held by the worker", log=worker.log)
        worker.signal(signal.SIGQUIT)
        assert worker.wait(10) == 128 + signal.SIGQUIT
        assert not worker.records(phase="end")
        assert "abandoned" in worker.log()
    # The three unstarted ones are back at once; the one in hand after its visibility timeout.
    assert counts("t__work") == (3, 1)


def test_sigusr1_dumps_every_threads_stack_and_the_worker_goes_on(server, tmp_path):
    send_many("work", [{"sleep": 4, "n": 0}])
    with ReceiverProcess(tmp_path, server.url, "work", "--threads", "2") as worker:
        worker.wait_for(lambda: worker.records(phase="start"), message="the message to start")
        worker.signal(signal.SIGUSR1)
        log = worker.wait_for(lambda: (lambda text: text if "stack dump on SIGUSR1" in text else None)(worker.log()), 10)
        for thread in ("MainThread", "django-sqs-poller", "django-sqs-handler-1", "django-sqs-heartbeat"):
            assert f"thread {thread} ---" in log, log
        assert "in _work" in log, "the receiver's own frame is in the dump"
        assert worker.process.poll() is None
        worker.wait_for(lambda: worker.records(phase="end"), message="the message to finish")
        worker.signal(signal.SIGTERM)
        assert worker.wait(20) == 0


def test_sigusr1_to_a_supervisor_dumps_it_and_its_children(server, tmp_path):
    with ReceiverProcess(tmp_path, server.url, "work", "--concurrency", "2") as worker:
        worker.wait_for(lambda: worker.log().count("worker started") == 2, message="both children")
        worker.signal(signal.SIGUSR1)
        log = worker.wait_for(lambda: (lambda text: text if text.count("stack dump on SIGUSR1") == 3 else None)(worker.log()), 10)
        assert "(supervisor)" in log
        worker.signal(signal.SIGTERM)
        assert worker.wait(20) == 0


# -- SQS out of reach (issue 17 §2) --------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("options", [(), ("--concurrency", "2")])
def test_burst_exits_non_zero_when_sqs_is_unreachable(server, tmp_path, options):
    endpoint = f"http://127.0.0.1:{_closed_port()}"
    with ReceiverProcess(tmp_path, endpoint, "work", "--burst", *options) as worker:
        code = worker.wait(120)
        log = worker.log()
    assert code == 2, log
    assert "cannot reach SQS" in log and "giving up (--burst)" in log, log


def test_burst_exits_non_zero_without_credentials(server, tmp_path):
    worker = ReceiverProcess(tmp_path, server.url, "work", "--burst", env={"AWS_EC2_METADATA_DISABLED": "true"})
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        worker.env.pop(name, None)
    with worker:
        code = worker.wait(120)
        log = worker.log()
    assert code == 2, log
    assert "no AWS credentials found" in log and "giving up (--burst)" in log, log


def test_a_long_outage_is_logged_again_while_it_lasts(settings, monkeypatch, caplog):
    """A long-running worker does not look idle while SQS keeps failing: "still failing
    since …" every OUTAGE_REPEAT seconds (a minute; shortened here)."""
    from django_sqs.exceptions import SQSRequestError
    from django_sqs.registry import registry
    from django_sqs.worker import lifecycle

    monkeypatch.setattr(lifecycle, "OUTAGE_REPEAT", 0.05)
    worker = lifecycle.Worker(registry.get("work"))
    monkeypatch.setattr(worker, "sleep", lambda seconds: time.sleep(0.06))
    error = SQSRequestError("ReceiveMessage on queue 't__work' failed: refused", code="EndpointConnectionError", transient=True)
    with caplog.at_level(logging.WARNING, logger="django_sqs"):
        for _ in range(3):
            assert worker.outage(error) is False  # a long-running worker never gives up
    messages = [r.getMessage() for r in caplog.records]
    assert sum("cannot reach SQS" in m and "still failing" not in m for m in messages) == 1
    assert sum("still failing since" in m and "t__work" in m for m in messages) >= 2, messages


# -- deletes: at once when nothing else is about to finish (issue 16 §4) ---------------------------


def test_killed_just_after_a_slow_message_finished_reruns_only_the_one_in_hand(server, tmp_path):
    """A lone finish is deleted at once, not after a batching window: a SIGKILL (OOM, a
    lost host) a moment later re-runs only the message in hand."""
    ids = send_many("vt3", [{"sleep": 2, "n": i} for i in range(3)])
    with ReceiverProcess(tmp_path, server.url, "vt3") as worker:
        worker.wait_for(lambda: worker.records(phase="end"), 30, message="the first message to finish")
        time.sleep(0.3)  # the second is in hand now
        worker.signal(signal.SIGKILL)
        worker.wait(5)
        first_ended = {r["id"] for r in worker.records(phase="end")}
    assert len(first_ended) == 1
    time.sleep(3.5)  # what the killed worker held comes back after its visibility timeout
    with ReceiverProcess(tmp_path, server.url, "vt3", "--burst") as again:
        assert again.wait(60) == 0
        rerun = {r["id"] for r in again.records(phase="start")}
    assert not (rerun & first_ended), "the finished message ran again"
    assert first_ended | rerun == set(ids)


def test_sigquit_to_a_supervisor_stops_its_children_at_once(server, tmp_path):
    send_many("work", [{"sleep": 30, "n": i} for i in range(30)])  # enough for both children's look-ahead
    with ReceiverProcess(tmp_path, server.url, "work", "--concurrency", "2") as worker:
        worker.wait_for(lambda: len({r["pid"] for r in worker.records(phase="start")}) == 2, message="both children busy")
        worker.signal(signal.SIGQUIT)
        assert worker.wait(10) == 1, worker.log()  # not a clean stop: messages in hand were abandoned
        assert not worker.records(phase="end")
        assert worker.log().count("abandoned") >= 2
    assert counts("t__work") == (28, 2)  # the unstarted ones back at once, the two in hand hidden
