"""runreceiver in real processes against a real local SQS server over HTTP."""

import os
import signal
import time

import pytest
from django.core.management import call_command

from django_sqs import send, send_many
from django_sqs.client import get_client
from django_sqs.provisioning import queue_url
from django_sqs.registry import registry
from tests.processes import ReceiverProcess, TCPProxy, alive
from tests.receivers import calls


def queue_counts(full_name):
    c = get_client()
    url = c.get_queue_url(QueueName=full_name)["QueueUrl"]
    attrs = c.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]), int(attrs["ApproximateNumberOfMessagesNotVisible"])


def test_sigterm_mid_backlog_exits_cleanly_and_gives_back_unstarted_messages(server, tmp_path):
    ids = send_many("jobs", [{"action": "sleep", "seconds": 0.2, "n": i} for i in range(30)])
    with ReceiverProcess(tmp_path, server.url, "jobs") as worker:
        worker.wait_for(lambda: len(worker.records(phase="start")) >= 3, message="three messages started")
        worker.signal(signal.SIGTERM)
        started = time.monotonic()
        assert worker.wait(15) == 0
        assert time.monotonic() - started < 5
        assert "released queue=t__jobs" in worker.log()
        first_run = {r["id"] for r in worker.records(phase="end")}
    # Everything not finished is back at once (the visibility timeout is 60 s).
    call_command("runreceiver", "jobs", "--burst")
    second_run = [c["id"] for c in calls if c.get("phase") == "end"]
    handled = first_run | set(second_run)
    assert handled == set(ids)
    assert len(first_run & set(second_run)) <= 1  # at most the message in hand ran twice
    assert queue_counts("t__jobs") == (0, 0)


def test_second_signal_exits_at_once(server, tmp_path):
    send("jobs", body={"action": "sleep", "seconds": 30})
    with ReceiverProcess(tmp_path, server.url, "jobs") as worker:
        worker.wait_for(lambda: worker.records(phase="start"), message="the slow message to start")
        worker.signal(signal.SIGTERM)
        time.sleep(0.3)
        assert worker.process.poll() is None  # still finishing the message in hand
        worker.signal(signal.SIGTERM)
        assert worker.wait(5) == 128 + signal.SIGTERM
        assert not worker.records(phase="end")


def test_sigterm_on_idle_worker_does_not_wait_for_the_long_poll(server, tmp_path):
    send("echo", body="warm up")
    env = {"DJANGO_SQS_TEST_POLL": "20"}
    with ReceiverProcess(tmp_path, server.url, "echo", env=env) as worker:
        worker.wait_for(lambda: worker.records(), message="the first message")
        time.sleep(0.5)  # now inside a 20 s long poll
        worker.signal(signal.SIGTERM)
        started = time.monotonic()
        assert worker.wait(10) == 0
        assert time.monotonic() - started < 3


def test_killed_child_is_restarted_and_its_queue_served(server, tmp_path):
    with ReceiverProcess(tmp_path, server.url, "echo", "jobs") as worker:
        worker.wait_for(lambda: len(worker.child_pids()) == 2, message="two children")
        send("echo", body="before")
        worker.wait_for(lambda: worker.records(body="before"), message="first echo")
        echo_pid = worker.records(body="before")[0]["pid"]
        os.kill(echo_pid, signal.SIGKILL)
        worker.wait_for(lambda: "child died queue=t__echo#0 signal SIGKILL" in worker.log(), message="death logged")
        worker.wait_for(lambda: worker.log().count("child started queue=t__echo#0") == 2, message="restart")
        # The dead child's last long poll (1 s) may still be open at the server and
        # would take a message sent now; SQS behaves the same. Let it run out.
        time.sleep(1.5)
        send("echo", body="after")
        worker.wait_for(lambda: worker.records(body="after"), timeout=30, message="echo served again")
        assert worker.records(body="after")[0]["pid"] != echo_pid
        worker.signal(signal.SIGTERM)
        assert worker.wait(15) == 0


def test_parent_killed_leaves_no_child_alive(server, tmp_path):
    with ReceiverProcess(tmp_path, server.url, "echo", "jobs") as worker:
        children = worker.wait_for(lambda: (lambda p: p if len(p) == 2 else None)(worker.child_pids()), message="two children")
        worker.signal(signal.SIGKILL)
        worker.wait(5)
        worker.wait_for(lambda: not any(alive(pid) for pid in children), timeout=15, message="children to exit")


def test_receiver_running_three_visibility_timeouts_runs_once(server, tmp_path):
    assert registry.get("slow").visibility_timeout == 2
    send("slow", body={"action": "sleep", "seconds": 6})
    with ReceiverProcess(tmp_path, server.url, "slow", "--concurrency", "2") as worker:
        worker.wait_for(lambda: len(worker.child_pids()) == 2, message="two children")
        worker.wait_for(lambda: worker.records(phase="end"), timeout=30, message="the slow message to end")
        time.sleep(3)  # past another visibility timeout: a redelivery would show up now
        assert len(worker.records(phase="start")) == 1
        worker.signal(signal.SIGTERM)
        assert worker.wait(15) == 0
    assert queue_counts("t__slow") == (0, 0)


def test_worker_survives_the_server_going_away(server, tmp_path):
    proxy = TCPProxy(server.port)
    try:
        with ReceiverProcess(tmp_path, proxy.url, "echo") as worker:
            send("echo", body="one")
            worker.wait_for(lambda: worker.records(body="one"), message="first message")
            proxy.cut()
            worker.wait_for(lambda: "cannot reach SQS queue=t__echo" in worker.log(), timeout=30, message="outage logged")
            time.sleep(3)
            assert worker.process.poll() is None
            send("echo", body="two")  # straight to the server, not through the proxy
            proxy.restore()
            worker.wait_for(lambda: worker.records(body="two"), timeout=60, message="the worker to resume")
            log = worker.log()
            assert log.count("cannot reach SQS queue=t__echo") == 1  # once per outage
            assert "SQS reachable again queue=t__echo" in log
            worker.signal(signal.SIGTERM)
            assert worker.wait(15) == 0
    finally:
        proxy.close()


def test_malformed_body_between_good_ones(server, tmp_path):
    send("jobs", body={"n": 1})
    url = queue_url(registry.get("jobs"))
    bad_id = get_client().send_message(QueueUrl=url, MessageBody="{not json")["MessageId"]
    send("jobs", body={"n": 2})
    with ReceiverProcess(tmp_path, server.url, "jobs", "--burst") as worker:
        assert worker.wait(30) == 0
        assert sorted(r["body"]["n"] for r in worker.records(phase="end")) == [1, 2]
        assert f"bad message queue=t__jobs id={bad_id} reason=body is not JSON" in worker.log()


def test_message_limit_counts_across_child_restarts(server, tmp_path):
    send_many("jobs", [{"action": "sleep", "seconds": 1, "n": i} for i in range(6)])
    send_many("echo", ["a", "b", "c", "d"])
    with ReceiverProcess(tmp_path, server.url, "jobs", "echo", "--message-limit", "3") as worker:
        worker.wait_for(lambda: len(worker.records(queue="t__jobs", phase="end")) >= 2, message="two jobs handled")
        os.kill(worker.records(queue="t__jobs", phase="end")[0]["pid"], signal.SIGKILL)
        assert worker.wait(60) == 0  # both slots reach their limit, then the parent exits
    # Killed after two, the restarted child handles one more, not three.
    assert len(worker.records(queue="t__jobs", phase="end")) == 3
    assert len(worker.records(queue="t__echo")) == 3


postgres = pytest.mark.skipif(
    os.environ.get("DJANGO_SQS_TEST_DB") != "postgresql", reason="needs PostgreSQL (DJANGO_SQS_TEST_DB=postgresql)"
)


def _db_env(connection):
    return {"DJANGO_SQS_TEST_DB_NAME": connection.settings_dict["NAME"], "DJANGO_SQS_TEST_CONN_MAX_AGE": "1"}


@postgres
@pytest.mark.django_db(transaction=True)
def test_children_never_share_the_parent_database_connection(server, tmp_path):
    from django.db import connection

    send_many("jobs", [{"action": "db"} for _ in range(6)])
    env = {**_db_env(connection), "DJANGO_SQS_TEST_PARENT_QUERY": "1"}
    with ReceiverProcess(tmp_path, server.url, "jobs", "--concurrency", "2", env=env) as worker:
        worker.wait_for(lambda: len(worker.records(phase="end")) == 6, message="six handled")
        parent = worker.records(phase="parent")
        assert parent, "the parent opened a connection before forking"
        backends = {r["backend_pid"] for r in worker.records(phase="db")}
        pids = {r["pid"] for r in worker.records(phase="db")}
        assert parent[0]["backend_pid"] not in backends
        assert worker.pid not in pids
        worker.signal(signal.SIGTERM)
        assert worker.wait(15) == 0


@postgres
@pytest.mark.django_db(transaction=True)
def test_receiver_survives_a_dropped_database_connection(server, tmp_path):
    from django.db import connection

    with ReceiverProcess(tmp_path, server.url, "jobs", env=_db_env(connection)) as worker:
        send("jobs", body={"action": "db", "n": 1})
        worker.wait_for(lambda: worker.records(phase="end"), message="first db message")
        backend = worker.records(phase="db")[0]["backend_pid"]
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [backend])
        send("jobs", body={"action": "db", "n": 2})
        worker.wait_for(lambda: len(worker.records(phase="end")) == 2, message="second db message")
        assert "receiver failed" not in worker.log()
        assert worker.records(phase="db")[1]["backend_pid"] != backend
        worker.signal(signal.SIGTERM)
        assert worker.wait(15) == 0


@postgres
@pytest.mark.django_db(transaction=True)
def test_close_database_closes_after_each_message(server, tmp_path):
    from django.db import connection

    send_many("closes_db", [{"action": "db"} for _ in range(2)])
    send_many("jobs", [{"action": "db"} for _ in range(2)])
    env = _db_env(connection)
    for queue in ("closes_db", "jobs"):
        worker = ReceiverProcess(tmp_path, server.url, queue, "--burst", env=env).start()
        try:
            assert worker.wait(30) == 0
        finally:
            worker.stop()
        backends = [r["backend_pid"] for r in worker.records(phase="db")]
        assert len(backends) == 2
        if queue == "closes_db":
            assert backends[0] != backends[1]
        else:  # persistent connection kept between messages
            assert backends[0] == backends[1]
