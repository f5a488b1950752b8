"""The hardened worker in-process (issue 10), against the real local SQS server: what a
receiver sees, what reaches SQS, and what the log says, when SQS refuses a request."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time

import pytest
from botocore.awsrequest import AWSResponse
from django.core.checks import run_checks
from django.core.management import CommandError, call_command

from django_sqs import RestartLater, receipts, register, send, send_many
from django_sqs.client import get_client
from django_sqs.exceptions import ConfigurationError
from django_sqs.registry import registry
from tests.processes import wait_until
from tests.queue_helpers import counts
from tests.receivers import calls, record


def started(queue=None):
    return [c for c in calls if c.get("phase") == "start" and (queue is None or c["queue"] == queue)]


def ended(queue=None):
    return [c for c in calls if c.get("phase") == "end" and (queue is None or c["queue"] == queue)]


@pytest.fixture
def refuse(monkeypatch):
    """``refuse[action] = n``: SQS refuses every entry of the next ``n`` batch requests of
    ``action`` (all of them when ``n`` is None); ``refuse.requests`` lists (action, time)."""

    class Plan(dict):
        requests: list[tuple[str, float]] = []

    plan = Plan()
    plan.requests = []
    original = receipts.batch_request

    def batch_request(action, url, full_name, handles, **extra):
        plan.requests.append((action, time.monotonic()))
        left = plan.get(action, 0)
        if left is None or left > 0:
            if left is not None:
                plan[action] = left - 1
            return [], [(i, "InternalError", "refused on purpose") for i in range(len(handles))]
        return original(action, url, full_name, handles, **extra)

    monkeypatch.setattr(receipts, "batch_request", batch_request)
    return plan


def stop_in_process_when(predicate, timeout=30.0):
    """SIGTERM to this process (the in-process worker's handler) once ``predicate()``."""

    def watch():
        try:
            wait_until(predicate, timeout, message="the condition to stop the worker")
        finally:
            os.kill(os.getpid(), signal.SIGTERM)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


# -- 5: visibility timeouts -----------------------------------------------------------------


def test_visibility_timeout_zero_is_refused_at_registration():
    with pytest.raises(ConfigurationError, match="visibility_timeout=0"):
        register("spins", lambda message: None, visibility_timeout=0)


def test_visibility_timeout_zero_is_refused_by_the_system_check(settings):
    # Through the default: no registration-time value to refuse.
    register("spins_by_default", lambda message: None)
    settings.SQS_DEFAULT_VISIBILITY_TIMEOUT = 0
    errors = [e for e in run_checks() if e.id == "django_sqs.E012"]
    assert [e.obj for e in errors if e.obj == "spins_by_default"] == ["spins_by_default"]
    assert errors[0].hint


@pytest.mark.parametrize("queue,vt", [("vt1", 1), ("slow", 2)])
def test_receiver_taking_three_visibility_timeouts_runs_once(server, queue, vt, caplog):
    assert registry.get(queue).get_visibility_timeout() == vt
    body = {"sleep": 3 * vt} if queue == "vt1" else {"action": "sleep", "seconds": 3 * vt}
    send(queue, body=body)
    with caplog.at_level(logging.INFO, logger="django_sqs"):
        call_command("runreceiver", queue, "--burst")
    assert len([c for c in calls if c.get("phase") == "start"]) == 1
    assert len([c for c in calls if c.get("phase") == "end"]) == 1
    time.sleep(vt + 0.5)  # a message still in the queue would be visible again now
    assert counts(f"t__{queue}") == (0, 0)
    assert "visibility change failed" not in caplog.text


def test_messages_waiting_their_turn_on_a_one_second_timeout_run_once(server, caplog):
    """Look-ahead messages wait behind a busy thread for several visibility timeouts; the
    heartbeat must keep every one of them hidden (renewed with half a second left)."""
    ids = send_many("vt1", [{"sleep": 0.4, "n": i} for i in range(12)])
    with caplog.at_level(logging.INFO, logger="django_sqs"):
        call_command("runreceiver", "vt1", "--burst")
    runs = [c["id"] for c in started()]
    assert sorted(runs) == sorted(ids), "a message ran twice, or not at all"
    assert "visibility ran out" not in caplog.text
    assert counts("t__vt1") == (0, 0)


def test_the_first_renewal_does_not_wait_for_the_short_client_to_be_built(server, monkeypatch):
    """The heartbeat's requests go through the short client (``client.SHORT``). Built
    lazily by the first renewal, it cost that renewal the building of a botocore client
    (a new session, the service model loaded again): about 0.1 s on an idle machine,
    seconds on a loaded one, so the first renewal of a 1-second hiding landed after the
    message was visible again and it ran twice (and a RestartLater came back after the
    visibility timeout). Building clients is made slow here, as on a loaded machine: the
    worker must have built its clients before it receives anything."""
    from django_sqs import client

    original = client._build

    def slow_build(config):
        time.sleep(1.5)
        return original(config)

    monkeypatch.setattr(client, "_build", slow_build)
    client.reset()
    ids = send_many("vt1", [{"sleep": 0.4, "n": i} for i in range(4)])
    client.reset()  # the send built the clients: the worker starts with none, as in production
    call_command("runreceiver", "vt1", "--burst")
    runs = [c["id"] for c in started()]
    assert sorted(runs) == sorted(ids), "a message ran twice, or not at all"
    assert counts("t__vt1") == (0, 0)


# -- 9: async def receivers, generator functions ----------------------------------------------


def test_async_receiver_runs_through_runreceiver(server):
    send_many("work_async", [{"sleep": 0.1, "n": i} for i in range(3)])
    call_command("runreceiver", "work_async", "--burst")
    assert sorted(c["body"]["n"] for c in ended("t__work_async")) == [0, 1, 2]
    assert counts("t__work_async") == (0, 0)


def test_generator_function_is_refused_as_a_receiver():
    def gen(message):
        yield message

    async def agen(message):
        yield message

    for fn in (gen, agen):
        with pytest.raises(ConfigurationError, match="generator function"):
            register(f"gen_{fn.__name__}", fn)


# -- 6: delete_on_start is at most once ------------------------------------------------------


def test_delete_on_start_does_not_run_the_receiver_when_the_delete_fails(server, refuse, caplog):
    refuse["DeleteMessageBatch"] = None
    msg_id = send("at_most_once", body={"n": 1})
    with caplog.at_level(logging.INFO, logger="django_sqs"):
        call_command("runreceiver", "at_most_once", "--burst")
    assert not started(), "the receiver ran although its message could not be deleted first"
    assert any(msg_id in r.getMessage() and "t__at_most_once" in r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR)


# -- 7: failed deletes are retried with backoff -----------------------------------------------


def test_failed_deletes_are_retried_with_backoff(server, refuse, caplog):
    refuse["DeleteMessageBatch"] = 3
    msg_id = send("work", body={"n": 1})

    def deleted():
        return len([a for a, _ in refuse.requests if a == "DeleteMessageBatch"]) >= 4 and counts("t__work") == (0, 0)

    watcher = stop_in_process_when(deleted)
    with caplog.at_level(logging.INFO, logger="django_sqs"):
        call_command("runreceiver", "work")
    watcher.join(5)
    times = [t for a, t in refuse.requests if a == "DeleteMessageBatch"]
    assert len(times) == 4, times
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert min(gaps) >= 0.25, f"retried in a burst: {gaps}"
    assert gaps[-1] > gaps[0], f"no backoff: {gaps}"
    assert counts("t__work") == (0, 0)
    assert len(ended()) == 1
    # 12: every line about the failure names the queue and the message.
    failures = [r.getMessage() for r in caplog.records if "delete failed" in r.getMessage()]
    assert failures and all("queue=t__work" in m and msg_id in m for m in failures)


# -- 8: the heartbeat never overrides a decision; the 12-hour cap ------------------------------


def test_restart_later_delay_is_not_undone_by_a_heartbeat_already_on_its_way(server, monkeypatch):
    """A renewal that left before the receiver decided, and lands after the decision, must
    not shorten ``RestartLater(delay=10)`` back to the visibility timeout. Renewals are
    slowed down here (as a slow network would), and the receiver decides while one is on
    its way, so the race happens every time."""
    original = receipts.batch_request
    renewal_on_its_way = threading.Event()

    def slow_renewals(action, url, full_name, handles, **extra):
        if action == "ChangeMessageVisibilityBatch" and extra.get("VisibilityTimeout") not in (0, 10):
            renewal_on_its_way.set()
            time.sleep(0.5)
        return original(action, url, full_name, handles, **extra)

    def decides_during_a_renewal(message):
        record(message, phase="start", t=time.time())
        if message.receive_count == 1:
            assert renewal_on_its_way.wait(10), "the heartbeat never renewed the message"
            time.sleep(0.1)
            raise RestartLater(delay=10)

    monkeypatch.setattr(receipts, "batch_request", slow_renewals)
    # 2 s: the slowed renewal (0.5 s) still lands before the message's visibility runs out,
    # even on a loaded machine; the decision is made while it is on its way.
    register("restart_race", decides_during_a_renewal, visibility_timeout=2)
    send("restart_race", body="x")
    deadline = time.monotonic() + 15

    def came_back_or_late():
        return len(started()) >= 2 or time.monotonic() > deadline

    watcher = stop_in_process_when(came_back_or_late)
    call_command("runreceiver", "restart_race")
    watcher.join(5)
    starts = [c["t"] for c in started()]
    assert len(starts) >= 2, "the restarted message never came back"
    assert starts[1] - starts[0] >= 9, f"RestartLater(delay=10) came back after {starts[1] - starts[0]:.1f}s"


def test_heartbeat_stops_at_the_visibility_cap_and_says_so_once(server, monkeypatch, caplog, refuse):
    from django_sqs.worker import heartbeat

    # The cap made small: 12 s after receipt instead of 12 hours (the margin kept below it
    # by the worker, if any, included).
    cap = 12 + getattr(heartbeat, "CAP_MARGIN", 0)
    monkeypatch.setattr(heartbeat, "MAX_VISIBILITY_TIMEOUT", cap)
    monkeypatch.setattr("django_sqs.conf.MAX_VISIBILITY_TIMEOUT", cap)
    msg_id = send("slow", body={"action": "sleep", "seconds": 16})
    with caplog.at_level(logging.INFO, logger="django_sqs"):
        call_command("runreceiver", "slow", "--burst", "--message-limit", "1")
    capped = [r.getMessage() for r in caplog.records if "cap" in r.getMessage() and msg_id in r.getMessage()]
    assert len(capped) == 1, capped
    assert "queue=t__slow" in capped[0]
    # Renewals stop at the cap: none in the last seconds of a 16 s receiver (VT 2 would
    # otherwise renew every second).
    renewals = [t for a, t in refuse.requests if a == "ChangeMessageVisibilityBatch"]
    assert renewals, "the heartbeat never renewed the slow message"
    last_delete = max(t for a, t in refuse.requests if a == "DeleteMessageBatch")
    assert last_delete - max(renewals) > 2.5
    assert "visibility change failed" not in caplog.text


# -- 10: call_command restores the signal handlers --------------------------------------------


def test_call_command_restores_signal_handlers(server):
    def mine(signum, frame):
        pass

    saved = {s: signal.signal(s, mine) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        send("work", body={"n": 1})
        call_command("runreceiver", "work", "--burst")
        assert signal.getsignal(signal.SIGTERM) is mine
        assert signal.getsignal(signal.SIGINT) is mine
    finally:
        for s, handler in saved.items():
            signal.signal(s, handler)


# -- 11: FIFO receives carry a ReceiveRequestAttemptId, kept on a retry ------------------------


def test_fifo_receive_carries_an_attempt_id_reused_after_a_failure(server):
    send_many("groups.fifo", [{"n": i} for i in range(3)], group_id="g")
    client = get_client()
    seen: list[dict] = []
    failures = {"left": 1}

    def record_params(params, **kwargs):
        seen.append(dict(params))

    def fail_once(model, params, **kwargs):
        if failures["left"]:
            failures["left"] -= 1
            response = AWSResponse("http://unavailable", 503, {}, None)
            return response, {
                "Error": {"Code": "ServiceUnavailable", "Message": "down on purpose"},
                "ResponseMetadata": {"HTTPStatusCode": 503},
            }
        return None

    client.meta.events.register("provide-client-params.sqs.ReceiveMessage", record_params)
    client.meta.events.register("before-call.sqs.ReceiveMessage", fail_once)
    try:
        call_command("runreceiver", "groups.fifo", "--burst")
    finally:
        client.meta.events.unregister("provide-client-params.sqs.ReceiveMessage", record_params)
        client.meta.events.unregister("before-call.sqs.ReceiveMessage", fail_once)
    assert sorted(c["body"]["n"] for c in ended()) == [0, 1, 2]
    attempt_ids = [p.get("ReceiveRequestAttemptId") for p in seen]
    assert len(attempt_ids) >= 2 and all(attempt_ids), attempt_ids
    assert attempt_ids[0] == attempt_ids[1], "the retried receive did not reuse the attempt id"


# -- 12, 22: log lines name queue and ids; a failed deleted message leaves its body ------------


def test_heartbeat_failure_log_names_queue_and_message(server, refuse, caplog):
    refuse["ChangeMessageVisibilityBatch"] = None
    msg_id = send("slow", body={"action": "sleep", "seconds": 1.8})
    with caplog.at_level(logging.INFO, logger="django_sqs"):
        call_command("runreceiver", "slow", "--burst", "--message-limit", "1")
    lines = [r.getMessage() for r in caplog.records if "visibility" in r.getMessage() and r.levelno >= logging.WARNING]
    assert lines, caplog.text
    assert all("queue=t__slow" in m and msg_id in m for m in lines), lines


def test_released_messages_are_logged_with_queue_and_ids(server, caplog):
    # A FIFO message that stays in the queue gives back the later messages of its group.
    first, *later = send_many(
        "groups.fifo", [{"action": "restart", "delay": 0, "n": 0}, {"n": 1}, {"n": 2}], group_id="g"
    )
    with caplog.at_level(logging.INFO, logger="django_sqs"):
        call_command("runreceiver", "groups.fifo", "--burst", "--message-limit", "3")
    released = [r.getMessage() for r in caplog.records if r.getMessage().startswith("released")]
    assert released, caplog.text
    assert all("queue=t__groups.fifo" in m for m in released)
    assert all(any(i in m for m in released) for i in later), released


def test_failed_and_deleted_message_is_logged_with_its_raw_body(server, caplog):
    msg_id = send("jobs", body={"action": "fail", "order": 1234})
    with caplog.at_level(logging.INFO, logger="django_sqs"):
        call_command("runreceiver", "jobs", "--burst")
    assert counts("t__jobs") == (0, 0)  # deleted (delete_on_error)
    (line,) = [r.getMessage() for r in caplog.records if "receiver failed" in r.getMessage()]
    assert msg_id in line and "queue=t__jobs" in line
    (raw,) = {c["raw"] for c in calls}
    assert f"body={raw!r}" in line, line


# -- 24: the --concurrency ceiling -----------------------------------------------------------


@pytest.mark.parametrize("args", [("work", "--concurrency", "65"), ("work", "echo", "--concurrency", "40")])
def test_concurrency_ceiling_names_the_memory(server, monkeypatch, args):
    def no_fork():
        raise AssertionError("a worker process was started")

    monkeypatch.setattr(os, "fork", no_fork)
    with pytest.raises(CommandError, match=r"\d+ MB"):
        call_command("runreceiver", *args)


# -- 7: prompt deletes still go out ten a request for fast receivers ---------------------------


def test_fast_drain_batches_deletes_and_stays_under_the_request_budget(server):
    total = 200
    send_many("work", [{"n": i} for i in range(total)])
    server.reset_counts()
    call_command("runreceiver", "work", "--burst")
    assert len(ended()) == total
    assert counts("t__work") == (0, 0)
    requests = server.counts()
    deletes = requests.get("DeleteMessageBatch", 0) + requests.get("DeleteMessage", 0)
    assert deletes <= total / 10 * 1.1, requests
    worker_requests = sum(v for k, v in requests.items() if k != "GetQueueAttributes")
    assert worker_requests / total <= 0.21, requests
