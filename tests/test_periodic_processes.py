"""Mode B at process level: several ``runreceiver --schedules`` on one database and the
local SQS server, a 1-second schedule; every tick sent exactly once, none missed; a
claimant SIGKILLed between claim and send is taken over after the lease; a scheduled
receiver that raises is logged and the next ticks still fire."""

import datetime as dt
import json
import os
import signal
import time

import pytest

from django_sqs import provisioning
from django_sqs.client import get_client
from django_sqs.message import Message
from django_sqs.periodic import claims
from django_sqs.registry import registry
from tests.processes import ReceiverProcess, wait_until

pytestmark = pytest.mark.django_db(transaction=True)
postgres = pytest.mark.skipif(
    os.environ.get("DJANGO_SQS_TEST_DB") != "postgresql", reason="needs PostgreSQL (DJANGO_SQS_TEST_DB=postgresql)"
)
EVERY_SECOND = {"every-second": {"queue": "echo", "every": 1, "catch_up": "all"}}


def env(schedules, **extra):
    from django.db import connection

    return {
        "DJANGO_SETTINGS_MODULE": "tests.periodic_settings",
        "DJANGO_SQS_TEST_DB_NAME": connection.settings_dict["NAME"],
        "DJANGO_SQS_TEST_SCHEDULES": json.dumps(schedules),
        **extra,
    }


def supervisor(tmp_path, server, schedules, *queues, **extra):
    # It serves "jobs" (by default); the schedule sends to "echo", which nobody serves: the
    # test counts what arrived there itself.
    return ReceiverProcess(tmp_path, server.url, *(queues or ("jobs",)), "--schedules", env=env(schedules, **extra))


def drain(name="echo"):
    client = get_client()
    url = provisioning.queue_url(registry.get(name))
    out = []
    while got := client.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], VisibilityTimeout=60
    ).get("Messages"):
        out += [Message.from_sqs(m, name) for m in got]
    return out


def firing(worker):
    return "firing schedules=" in worker.log()


def stop(workers):
    for w in workers:
        w.signal(signal.SIGTERM)
    for w in workers:
        assert w.wait(30) == 0, w.log()


@postgres
@pytest.mark.parametrize("supervisors, seconds", [(2, 12), (3, 12)])
def test_several_supervisors_send_every_tick_exactly_once(server, tmp_path, supervisors, seconds):
    workers = [supervisor(tmp_path, server, EVERY_SECOND).start() for _ in range(supervisors)]
    try:
        for w in workers:
            w.wait_for(lambda w=w: firing(w), timeout=60, message="the firing process started")
        started = dt.datetime.now(dt.timezone.utc)
        time.sleep(seconds)
        stopping = dt.datetime.now(dt.timezone.utc)
        stop(workers)
    finally:
        for w in workers:
            w.stop()
    rows = list(claims.model().objects.filter(schedule="every-second").order_by("tick"))
    ticks = [r.tick for r in rows]
    # None missed: one row per second from the first to the last, covering the run.
    assert ticks == [ticks[0] + dt.timedelta(seconds=i) for i in range(len(ticks))]
    assert ticks[0] <= started + dt.timedelta(seconds=1) and ticks[-1] >= stopping - dt.timedelta(seconds=2)
    assert all(r.sent_at is not None and r.claims == 1 for r in rows)
    # Each sent exactly once: one message per row, carrying its tick.
    messages = drain()
    assert sorted(m.tick.at for m in messages) == ticks
    assert {m.id for m in messages} == {r.message_id for r in rows}
    claimants = {r.claimed_by for r in rows}
    assert 1 <= len(claimants) <= supervisors


@postgres
def test_a_claimant_killed_between_claim_and_send_is_taken_over_after_the_lease(server, tmp_path):
    killed = supervisor(tmp_path, server, EVERY_SECOND, DJANGO_SQS_PERIODIC_FAULT="kill-after-claim",
                        DJANGO_SQS_TEST_SCHEDULE_LEASE="3").start()
    other = None
    try:
        killed.wait_for(lambda: "fault injection: killed after claiming" in killed.log(), timeout=60,
                        message="the claimant killed itself after its claim")
        stuck = claims.model().objects.order_by("tick").first()
        assert stuck.sent_at is None
        other = supervisor(tmp_path, server, EVERY_SECOND, DJANGO_SQS_TEST_SCHEDULE_LEASE="3").start()
        wait_until(lambda: claims.model().objects.filter(pk=stuck.pk, sent_at__isnull=False).exists(),
                   timeout=60, message="the stuck tick sent by the other supervisor", log=other.log)
        wait_until(lambda: claims.model().objects.filter(tick__gt=stuck.tick + dt.timedelta(seconds=2)).exists(),
                   timeout=30, message="later ticks", log=other.log)
        assert killed.process.poll() is None  # its workers go on; only its firing process died
        # ... and it is not left dead: runreceiver says so and starts another.
        killed.wait_for(lambda: "schedules firing process died" in killed.log() and "restarting in" in killed.log(),
                        timeout=30, message="the firing process restarted")
        stop([killed, other])
    finally:
        killed.stop()
        if other:
            other.stop()
    dead_claimant = stuck.claimed_by
    stuck.refresh_from_db()
    # Sent by another firing process: the other supervisor's, or the killed supervisor's
    # restarted one, whichever looked first once the lease was over.
    assert stuck.claims == 2 and stuck.claimed_by != dead_claimant and stuck.sent_at is not None
    assert "schedule tick recovered schedule=every-second" in other.log() + killed.log()
    # Within the lease (plus the scan period and start-up), generously bounded.
    assert stuck.sent_at - stuck.claimed_at < dt.timedelta(seconds=30)
    messages = drain()
    assert [m.tick.at for m in messages].count(stuck.tick) == 1
    rows = claims.model().objects.filter(sent_at__isnull=False)
    assert sorted(m.tick.at for m in messages) == sorted(r.tick for r in rows)


def test_a_scheduled_receiver_that_raises_is_logged_and_the_next_tick_fires(server, tmp_path):
    schedules = {"failing": {"queue": "jobs", "every": 1, "body": {"action": "fail"}}}
    # Two queues: the supervisor forks a worker per queue beside the firing process.
    worker = supervisor(tmp_path, server, schedules, "jobs", "at_most_once").start()
    try:
        worker.wait_for(lambda: len(worker.records(queue="t__jobs", phase="start")) >= 3, timeout=60,
                        message="three ticks handled")
        stop([worker])
    finally:
        worker.stop()
    log = worker.log()
    assert "ValueError: failing on purpose" in log
    assert log.count("failing on purpose") >= 3
    assert len({r["id"] for r in worker.records(queue="t__jobs", phase="start")}) >= 3


def test_the_firing_process_ends_with_runreceiver_even_when_it_is_killed(server, tmp_path):
    import re

    from tests.processes import alive

    worker = supervisor(tmp_path, server, {"nightly": {"queue": "echo", "cron": "0 3 * * *"}}).start()
    try:
        worker.wait_for(lambda: firing(worker), timeout=60, message="the firing process started")
        pid = int(re.search(r"schedules firing process started pid=(\d+)", worker.log()).group(1))
        assert alive(pid)
        os.kill(worker.pid, signal.SIGKILL)
        wait_until(lambda: not alive(pid), timeout=30, message="the firing process gone with its parent", log=worker.log)
    finally:
        worker.stop()
