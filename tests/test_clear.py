"""sqs_clear: receive-and-delete with counts, and --purge."""

import io

import botocore.exceptions
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from django_sqs import send, send_many
from django_sqs.client import get_client
from django_sqs.management.commands.sqs_clear import Command
from django_sqs.status import queue_counts


def run(*args):
    out = io.StringIO()
    call_command("sqs_clear", *args, stdout=out)
    return out.getvalue().splitlines()


def test_deletes_and_counts_per_queue_suffixes_included(sqs):
    send_many("jobs", [{"n": i} for i in range(13)])  # more than one receive's worth
    send_many("echo", ["a", "b"])
    send("echo", body="c", suffix="big")
    lines = run()
    assert "t__jobs: deleted 13" in lines
    assert "t__echo: deleted 2" in lines
    assert "t__echo__big: deleted 1" in lines
    assert "t__echo__small: not created yet" in lines
    assert lines[-1] == "Deleted 16 messages."
    for name in ("t__jobs", "t__echo", "t__echo__big"):
        assert queue_counts(name) == {"visible": 0, "in_flight": 0, "delayed": 0}
    assert queue_counts("t__echo__small") is None  # not created by clearing


def test_only_the_named_queues(sqs):
    send("jobs", body={})
    send("echo", body="stays")
    assert run("jobs") == ["t__jobs: deleted 1", "Deleted 1 message."]
    assert queue_counts("t__echo")["visible"] == 1


def test_pattern_selects_queues(sqs):
    send("echo", body="a")
    send("echo", body="b", suffix="small")
    lines = run("ec*")
    assert lines == ["t__echo: deleted 1", "t__echo__big: not created yet", "t__echo__small: deleted 1", "Deleted 2 messages."]


def test_no_messages(sqs):
    send("jobs", body={})
    run("jobs")
    assert run("jobs") == ["t__jobs: deleted 0", "Deleted 0 messages."]


def test_in_flight_and_delayed_messages_are_left_and_said(sqs):
    send_many("jobs", [{"n": 1}, {"n": 2}])
    send("jobs", body={"n": 3}, delay_seconds=300)
    url = sqs.get_queue_url(QueueName="t__jobs")["QueueUrl"]
    sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, VisibilityTimeout=300)
    (line, total) = run("jobs")
    assert line == "t__jobs: deleted 1; left about 1 in flight and 1 delayed (cannot be received now)"
    assert total == "Deleted 1 message."


def test_an_empty_short_receive_does_not_end_the_clearing_early(sqs, monkeypatch):
    """SQS's short receive samples servers and may come back empty while messages remain;
    the queue's counts are checked and a long poll makes sure."""
    send_many("jobs", [{"n": i} for i in range(3)])
    client = get_client()
    real = client.receive_message
    waits = []

    def flaky(**kwargs):
        waits.append(kwargs["WaitTimeSeconds"])
        if len(waits) == 1:
            return {}  # the first, short, receive found nothing
        return real(**kwargs)

    monkeypatch.setattr(client, "receive_message", flaky)
    assert run("jobs")[0] == "t__jobs: deleted 3"
    assert waits[:2] == [0, 1]


def test_failed_deletes_are_counted_apart(sqs, monkeypatch):
    send_many("jobs", [{"n": 1}, {"n": 2}])
    client = get_client()
    real = client.delete_message_batch

    def half(QueueUrl, Entries):
        response = real(QueueUrl=QueueUrl, Entries=Entries[:1])
        response["Failed"] = [{"Id": e["Id"], "Code": "ReceiptHandleIsInvalid", "SenderFault": True} for e in Entries[1:]]
        return response

    monkeypatch.setattr(client, "delete_message_batch", half)
    line = run("jobs")[0]
    assert line.startswith("t__jobs: deleted 1;")
    assert line.endswith("1 could not be deleted")


def test_purge(sqs):
    send_many("jobs", [{"n": 1}, {"n": 2}])
    assert run("jobs", "echo", "--purge") == [
        "t__echo: not created yet",
        "t__echo__big: not created yet",
        "t__echo__small: not created yet",
        "t__jobs: purged",
    ]
    assert queue_counts("t__jobs")["visible"] == 0
    assert queue_counts("t__echo") is None


def test_purge_twice_within_a_minute_is_reported_not_fatal(sqs):
    send("jobs", body={})
    run("jobs", "--purge")
    assert run("jobs", "--purge") == [
        "t__jobs: a purge is already in progress (SQS allows one per 60 s per queue)"
    ]


def test_unknown_queue_name(sqs):
    with pytest.raises(CommandError, match="No registered queue matches 'nope'.*echo"):
        run("nope")


def test_sqs_errors_become_a_command_error(sqs, monkeypatch):
    send("jobs", body={})

    def refuse(**kwargs):
        raise botocore.exceptions.ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "ReceiveMessage")

    monkeypatch.setattr(get_client(), "receive_message", refuse)
    with pytest.raises(CommandError, match="ReceiveMessage on queue 't__jobs' failed"):
        run("jobs")


def test_help_explains_the_options():
    text = Command().create_parser("manage.py", "sqs_clear").format_help()
    assert "--purge" in text and "PurgeQueue" in text and "in flight" in text
