"""The worker driven in-process (call_command("runreceiver", ..., "--burst")) over moto."""

import logging

import pytest
from django.core.management import CommandError, call_command

from django_sqs import send, send_many
from django_sqs.provisioning import queue_url
from django_sqs.registry import registry
from tests.receivers import calls, echo


def attrs(sqs, name):
    url = queue_url(registry.get(name))
    a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return int(a["ApproximateNumberOfMessages"]), int(a["ApproximateNumberOfMessagesNotVisible"])


def bodies(phase=None):
    return [c["body"] for c in calls if phase is None or c.get("phase") == phase]


def test_burst_handles_every_message_and_deletes_it(sqs):
    send_many("echo", [f"m{i}" for i in range(12)])
    call_command("runreceiver", "echo", "--burst")
    assert sorted(bodies()) == sorted(f"m{i}" for i in range(12))
    assert attrs(sqs, "echo") == (0, 0)


def test_received_message_exposes_sqs_facts(sqs):
    msg_id = echo(body="facts")
    call_command("runreceiver", "echo", "--burst")
    (call,) = calls
    assert call["id"] == msg_id and call["queue"] == "t__echo" and call["receive_count"] == 1


def test_message_limit_handles_exactly_n(sqs):
    send_many("echo", [f"m{i}" for i in range(5)])
    call_command("runreceiver", "echo", "--burst", "--message-limit", "3")
    assert len(calls) == 3
    assert attrs(sqs, "echo") == (2, 0)  # the two left were never received


def test_suffix_serves_the_suffixed_queue_only(sqs):
    send("echo", body="plain")
    send("echo", body="big one", suffix="big")
    call_command("runreceiver", "echo", "--burst", "--suffix", "big")
    assert bodies() == ["big one"]
    assert [c["queue"] for c in calls] == ["t__echo__big"]


def test_patterns_select_queues(sqs):
    send("echo", body="e")
    send("jobs", body={"n": 1})
    call_command("runreceiver", "ech*", "--burst")
    assert bodies() == ["e"]


def test_unknown_queue_is_a_command_error(sqs):
    with pytest.raises(CommandError, match="No registered queue with a receiver matches 'nope'.*echo"):
        call_command("runreceiver", "nope", "--burst")


@pytest.mark.parametrize("option", ["--message-limit=0", "--concurrency=-1", "--message-limit=x"])
def test_bad_options_are_usage_errors(option):
    with pytest.raises(CommandError, match="argument"):
        call_command("runreceiver", option)


def test_restart_later_with_delay_zero_comes_back_at_once(sqs):
    send("jobs", body={"action": "restart", "delay": 0})
    # Handled twice within one burst run: restart, then visible again immediately.
    call_command("runreceiver", "jobs", "--burst", "--message-limit", "2")
    starts = [c for c in calls if c.get("phase") == "start"]
    assert [c["receive_count"] for c in starts] == [1, 2]
    assert attrs(sqs, "jobs") == (1, 0)  # still in the queue and visible again, not deleted


def test_restart_later_without_delay_stays_hidden_without_traceback(sqs, caplog):
    send("jobs", body={"action": "restart"})
    with caplog.at_level(logging.INFO, logger="django_sqs"):
        call_command("runreceiver", "jobs", "--burst")
    assert len(bodies("start")) == 1
    assert attrs(sqs, "jobs") == (0, 1)
    restart = [r for r in caplog.records if "restart later" in r.getMessage()]
    assert restart and restart[0].exc_info is None


def test_failing_receiver_logs_traceback_and_deletes(sqs, caplog):
    msg_id = send("jobs", body={"action": "fail"})
    with caplog.at_level(logging.INFO, logger="django_sqs"):
        call_command("runreceiver", "jobs", "--burst")
    failed = [r for r in caplog.records if "receiver failed" in r.getMessage()]
    assert failed and failed[0].exc_info is not None
    assert f"queue=t__jobs id={msg_id}" in failed[0].getMessage()
    assert attrs(sqs, "jobs") == (0, 0)


def test_delete_on_error_false_keeps_the_message(sqs):
    send("keep_on_error", body={"action": "fail"})
    call_command("runreceiver", "keep_on_error", "--burst")
    assert attrs(sqs, "keep_on_error") == (0, 1)


def test_delete_on_start_deletes_before_the_receiver_runs(sqs):
    seen = []
    rq = registry.get("at_most_once")

    def receiver(message):
        # Already gone from the queue while the receiver runs.
        seen.append(attrs(sqs, "at_most_once"))
        raise RuntimeError("fails after the delete")

    rq.receiver, original = receiver, rq.receiver
    try:
        send("at_most_once", body={"n": 1})
        call_command("runreceiver", "at_most_once", "--burst")
    finally:
        rq.receiver = original
    assert seen == [(0, 0)]
    assert attrs(sqs, "at_most_once") == (0, 0)


def test_close_database_closes_connections_after_each_message(sqs, monkeypatch, transactional_db):
    from django.db import connection
    from django.db.backends.base.base import BaseDatabaseWrapper

    closed = []
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", None)  # persistent otherwise
    connection.close()
    connection.ensure_connection()
    original = BaseDatabaseWrapper.close

    def close(self):
        closed.append(1)
        original(self)
        if reopen:
            self.ensure_connection()  # so the next message has one to close again

    reopen = True

    monkeypatch.setattr(BaseDatabaseWrapper, "close", close)
    send_many("closes_db", [{"n": 1}, {"n": 2}])
    call_command("runreceiver", "closes_db", "--burst")
    assert len(closed) == 2
    closed.clear()
    send_many("jobs", [{"n": 1}, {"n": 2}])
    call_command("runreceiver", "jobs", "--burst")
    reopen = False
    assert closed == []


def test_bad_message_is_logged_and_the_worker_goes_on(sqs, caplog):
    send("jobs", body={"n": 1})
    bad = sqs.send_message(QueueUrl=queue_url(registry.get("jobs")), MessageBody="{oops")["MessageId"]
    send("jobs", body={"n": 2})
    with caplog.at_level(logging.INFO, logger="django_sqs"):
        call_command("runreceiver", "jobs", "--burst")
    assert sorted(b["n"] for b in bodies("end")) == [1, 2]
    assert any(f"bad message queue=t__jobs id={bad} reason=body is not JSON" in r.getMessage() for r in caplog.records)


def test_deleted_row_is_a_bad_message(sqs, db, caplog):
    from tests.models import Photo
    from tests.receivers import photos

    kept = Photo.objects.create(title="kept")
    gone = Photo.objects.create(title="gone")
    photos(instance=gone)
    photos(instance=kept)
    gone.delete()
    with caplog.at_level(logging.INFO, logger="django_sqs"):
        call_command("runreceiver", "photos", "--burst")
    assert [c["title"] for c in calls] == ["kept"]
    assert any("does not exist" in r.getMessage() and "bad message" in r.getMessage() for r in caplog.records)


def test_one_receive_and_one_batch_delete_per_ten_messages(sqs, monkeypatch):
    from django_sqs import client

    send_many("echo", [f"m{i}" for i in range(20)])
    counts = {"receive_message": 0, "delete_message_batch": 0, "delete_message": 0, "change_message_visibility_batch": 0}
    for kind in (client.DEFAULT, client.SHORT):  # every kind of client the worker uses
        c = client.get_client(kind)
        for name in counts:
            original = getattr(c, name)

            def counted(*args, _name=name, _original=original, **kwargs):
                counts[_name] += 1
                return _original(*args, **kwargs)

            monkeypatch.setattr(c, name, counted)
    call_command("runreceiver", "echo", "--burst")
    assert len(calls) == 20
    # Two full receives, one empty one that ends the burst; one batch delete per receive.
    assert counts == {"receive_message": 3, "delete_message_batch": 2, "delete_message": 0, "change_message_visibility_batch": 0}


def test_expired_message_is_not_handed_to_the_receiver(sqs, monkeypatch, caplog):
    """With the heartbeat unable to extend, a message that waited past its visibility
    timeout behind a slow one is skipped, not handled."""
    from django_sqs.worker import requests

    original = requests.change_visibility

    def no_heartbeat(held, seconds, why):
        return [] if why == "heartbeat" else original(held, seconds, why)

    _, late_id = send_many("slow", [{"action": "sleep", "seconds": 2.5}, {"n": "late"}])
    monkeypatch.setattr(requests, "change_visibility", no_heartbeat)
    with caplog.at_level(logging.INFO, logger="django_sqs"):
        call_command("runreceiver", "slow", "--burst", "--message-limit", "3")
    late = [c for c in calls if c.get("phase") == "start" and c["body"] == {"n": "late"}]
    # Never handed on the delivery whose visibility ran out while it waited.
    assert all(c["receive_count"] >= 2 for c in late)
    assert any(
        "visibility ran out before its turn" in r.getMessage() and late_id in r.getMessage() for r in caplog.records
    )


def test_heartbeat_keeps_a_waiting_message_hidden(sqs, caplog):
    send_many("slow", [{"action": "sleep", "seconds": 2.5}, {"n": "second"}])
    with caplog.at_level(logging.DEBUG, logger="django_sqs"):
        call_command("runreceiver", "slow", "--burst", "-v", "2")
    assert [c["body"] for c in calls if c.get("phase") == "end"] == [{"action": "sleep", "seconds": 2.5}, {"n": "second"}]
    assert not any("visibility ran out" in r.getMessage() for r in caplog.records)
    assert any("extended visibility queue=t__slow" in r.getMessage() for r in caplog.records)


def test_startup_line_names_queue_and_poll_period(sqs, caplog):
    with caplog.at_level(logging.INFO, logger="django_sqs"):
        call_command("runreceiver", "echo", "--burst")
    assert any("runreceiver starting queues=t__echo concurrency=1 poll_period=0s" in r.getMessage() for r in caplog.records)


def test_verbosity_sets_the_log_level(sqs):
    call_command("runreceiver", "echo", "--burst", "-v", "0")
    assert logging.getLogger("django_sqs").level == logging.WARNING
    call_command("runreceiver", "echo", "--burst", "-v", "2")
    assert logging.getLogger("django_sqs").level == logging.DEBUG


def test_failed_batch_delete_entry_is_logged_and_retried(sqs, monkeypatch, caplog):
    from django_sqs import client

    c = client.get_client(client.SHORT)  # the worker's requests on messages it holds
    original = c.delete_message_batch
    failures = []

    def flaky(QueueUrl, Entries):
        if not failures:  # the first request: SQS refuses the first entry
            failures.append(Entries[0]["Id"])
            response = original(QueueUrl=QueueUrl, Entries=Entries[1:])
            response.setdefault("Failed", []).append(
                {"Id": Entries[0]["Id"], "Code": "InternalError", "SenderFault": False, "Message": "try again"}
            )
            return response
        return original(QueueUrl=QueueUrl, Entries=Entries)

    monkeypatch.setattr(c, "delete_message_batch", flaky)
    send_many("echo", ["a", "b", "c"])
    with caplog.at_level(logging.INFO, logger="django_sqs"):
        call_command("runreceiver", "echo", "--burst")
    assert len(calls) == 3
    assert any("delete failed, will retry" in r.getMessage() for r in caplog.records)
    assert attrs(sqs, "echo") == (0, 0)
