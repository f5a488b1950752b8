"""The Lambda handler, with events built from messages really received from the local SQS
server: receipt handles are real, so deletes and visibility changes are checked on the server."""

import json
import logging
import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection

from django_sqs import RestartLater, register, send, signals
from django_sqs.aws_lambda import make_handler
from django_sqs.client import get_client
from django_sqs.message import JSONMessage, Message
from tests.processes import ROOT
from tests.queue_helpers import attributes, counts, drain, event_of, lambda_record, url_of
from tests.receivers import calls

handler = make_handler(settings_module="tests.settings")


def failed_ids(response: dict) -> list[str]:
    return [item["itemIdentifier"] for item in response["batchItemFailures"]]


def starts() -> list:
    return [c["body"] for c in calls if c.get("phase", "start") == "start"]


def test_success_runs_each_receiver_and_reports_no_failure(server):
    ids = [send("jobs", body={"n": 1}), send("jobs", body={"n": 2}), send("echo", body="hi", suffix="big")]
    response = handler(event_of("t__jobs", "t__echo__big"), None)
    assert response == {"batchItemFailures": []}
    assert starts() == [{"n": 1}, {"n": 2}, "hi"]
    assert [c["id"] for c in calls if c.get("phase") != "end"] == ids
    assert calls[-1]["queue"] == "t__echo__big"  # the suffixed queue, found from its ARN
    # Lambda deletes what succeeded; the handler leaves the messages alone.
    assert counts("t__jobs") == (0, 2)
    assert server.counts().get("DeleteMessageBatch") is None


def test_failure_is_reported_when_kept_and_handled_when_deleted(server, caplog):
    kept = send("keep_on_error", body={"action": "fail"})
    send("jobs", body={"action": "fail", "secret": "raw-body-here"})
    with caplog.at_level(logging.INFO, logger="django_sqs"):
        response = handler(event_of("t__keep_on_error", "t__jobs"), None)
    # delete_on_error=False: back to the queue; delete_on_error=True (default): handled.
    assert failed_ids(response) == [kept]
    deleted = [r for r in caplog.records if r.getMessage().startswith("deleted after failure")]
    assert len(deleted) == 1 and "t__jobs" in deleted[0].getMessage() and "raw-body-here" in deleted[0].getMessage()


def test_restart_later_with_delay_changes_visibility_on_the_server(server):
    restarted = send("jobs", body={"action": "restart", "delay": 0})
    send("jobs", body={"n": 1})
    response = handler(event_of("t__jobs"), None)
    assert failed_ids(response) == [restarted]
    # Received with a 60 s visibility timeout; RestartLater(delay=0) made it visible now.
    assert counts("t__jobs") == (1, 1)
    (again,) = drain("t__jobs")
    assert again["MessageId"] == restarted and again["Attributes"]["ApproximateReceiveCount"] == "2"


def test_restart_later_without_delay_stays_hidden(server):
    restarted = send("jobs", body={"action": "restart"})
    response = handler(event_of("t__jobs"), None)
    assert failed_ids(response) == [restarted]
    assert counts("t__jobs") == (0, 1)
    assert "ChangeMessageVisibilityBatch" not in server.counts()


def test_bad_message_follows_delete_on_error(server, caplog):
    send("jobs", body={"n": 0})  # creates the queue
    send("keep_on_error", body={"n": 0})
    client = get_client()
    client.purge_queue(QueueUrl=url_of("t__jobs"))
    client.purge_queue(QueueUrl=url_of("t__keep_on_error"))
    bad = client.send_message(QueueUrl=url_of("t__jobs"), MessageBody="not json")["MessageId"]
    bad_kept = client.send_message(QueueUrl=url_of("t__keep_on_error"), MessageBody="{nope")["MessageId"]
    with caplog.at_level(logging.INFO, logger="django_sqs"):
        response = handler(event_of("t__jobs", "t__keep_on_error"), None)
    assert failed_ids(response) == [bad_kept]
    logged = [r.getMessage() for r in caplog.records if r.getMessage().startswith("bad message")]
    assert any(f"queue=t__jobs id={bad}" in m and "not JSON" in m for m in logged)
    assert any(f"queue=t__keep_on_error id={bad_kept}" in m for m in logged)


def test_unknown_queue_fails_that_record_only(server, caplog):
    client = get_client()
    url = client.create_queue(QueueName="t__nobody")["QueueUrl"]
    stray = client.send_message(QueueUrl=url, MessageBody="?")["MessageId"]
    send("echo", body="fine")
    with caplog.at_level(logging.ERROR, logger="django_sqs"):
        response = handler(event_of("t__nobody", "t__echo"), None)
    assert failed_ids(response) == [stray]
    assert starts() == ["fine"]
    assert any(f"no registered queue for this record, reported failed queue=t__nobody id={stray}" in r.getMessage() for r in caplog.records)


fifo_handled: list[str] = []


def fail_on_a1(message):
    fifo_handled.append(message.get_body())
    if message.get_body() == "a1":
        raise RestartLater()


def test_fifo_records_after_a_failure_in_their_group_are_not_run(server):
    fifo_handled.clear()
    register("orders.fifo", fail_on_a1)
    a1 = send("orders.fifo", body="a1", group_id="a")
    b1 = send("orders.fifo", body="b1", group_id="b")
    a2 = send("orders.fifo", body="a2", group_id="a")
    b2 = send("orders.fifo", body="b2", group_id="b")
    event = event_of("t__orders.fifo")
    assert [r["messageId"] for r in event["Records"]] == [a1, b1, a2, b2]
    response = handler(event, None)
    assert failed_ids(response) == [a1, a2]
    assert fifo_handled == ["a1", "b1", "b2"]  # a2 never ran: it must not overtake a1
    assert b1 not in failed_ids(response)


def test_delete_on_start_deletes_before_running(server):
    send("at_most_once", body={"action": "fail"})
    response = handler(event_of("t__at_most_once"), None)
    assert response == {"batchItemFailures": []}
    assert starts() == [{"action": "fail"}]
    assert counts("t__at_most_once") == (0, 0)  # deleted by the handler, not left to Lambda
    assert server.counts()["DeleteMessageBatch"] == 1


def test_delete_on_start_failure_does_not_run_the_receiver_and_reports_the_record(server, monkeypatch):
    """At most once: when the delete before the start fails, the receiver must not run,
    and the record is reported failed (it comes back; Lambda must not delete it)."""
    from django_sqs import receipts

    def refuse(action, url, full_name, handles, **extra):
        return [], [(0, "InternalError", "refused on purpose")]

    msg_id = send("at_most_once", body={"n": 1})
    monkeypatch.setattr(receipts, "batch_request", refuse)
    response = handler(event_of("t__at_most_once"), None)
    assert failed_ids(response) == [msg_id]
    assert starts() == []


def test_message_attributes_reach_the_receiver_as_from_receive_message(server):
    seen = []
    register("attrs", lambda m: seen.append(m.message_attributes))
    message = Message(body="x")
    message.message_attributes = {
        "kind": {"DataType": "String", "StringValue": "v"},
        "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01\xff"},
    }
    send("attrs", message)
    (received,) = drain("t__attrs")
    arn = attributes("t__attrs")["QueueArn"]
    assert handler({"Records": [lambda_record(received, arn)]}, None) == {"batchItemFailures": []}
    assert seen == [received["MessageAttributes"]]


def test_async_receiver_is_awaited(server):
    done = []

    async def receive(message):
        done.append(message.get_body())

    register("asyncjobs", receive, message_class=JSONMessage)
    send("asyncjobs", body={"n": 7})
    assert handler(event_of("t__asyncjobs"), None) == {"batchItemFailures": []}
    assert done == [{"n": 7}]


def test_signals_are_sent_per_record(server):
    received, handled = [], []
    signals.message_received.connect(lambda **kw: received.append(kw["message_id"]), weak=False, dispatch_uid="t1")
    signals.message_handled.connect(lambda **kw: handled.append((kw["message_id"], kw["outcome"])), weak=False, dispatch_uid="t2")
    try:
        ok = send("jobs", body={"n": 1})
        bad = send("jobs", body={"action": "restart"})
        handler(event_of("t__jobs"), None)
    finally:
        signals.message_received.disconnect(dispatch_uid="t1")
        signals.message_handled.disconnect(dispatch_uid="t2")
    assert received == [ok, bad]
    assert handled == [(ok, "ok"), (bad, "restart")]


@pytest.mark.django_db(transaction=True)
def test_database_connections_are_handled_per_record(server):
    send("jobs", body={"action": "db"})
    handler(event_of("t__jobs"), None)
    assert [c["phase"] for c in calls] == ["start", "db", "end"]
    # CONN_MAX_AGE=0: as after a request, the connection the receiver opened is closed.
    assert connection.connection is None


def test_handler_for_other_settings_refuses_when_django_is_set_up_differently():
    with pytest.raises(ImproperlyConfigured, match="already set up with 'tests.settings'"):
        make_handler(settings_module="mysite.settings")({"Records": []}, None)


def test_cold_start_sets_django_up_in_a_fresh_process(server, tmp_path):
    send("echo", body="cold")
    event = event_of("t__echo")
    script = (
        "import json, sys\n"
        "from django_sqs.aws_lambda import handler\n"
        "print(json.dumps([handler(json.loads(sys.stdin.read()), None), handler({'Records': []}, None)]))\n"
    )
    record = tmp_path / "records.jsonl"
    env = {
        "DJANGO_SETTINGS_MODULE": "tests.settings", "DJANGO_SQS_TEST_ENDPOINT": server.url,
        "DJANGO_SQS_TEST_RECORD": str(record), "PYTHONPATH": str(ROOT),
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "PATH": "/usr/bin:/bin",
    }
    done = subprocess.run(
        [sys.executable, "-c", script], input=json.dumps(event), capture_output=True, text=True,
        env=env, cwd=ROOT, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [{"batchItemFailures": []}, {"batchItemFailures": []}]
    (entry,) = [json.loads(line) for line in record.read_text().splitlines()]
    assert entry["body"] == "cold" and entry["queue"] == "t__echo"
