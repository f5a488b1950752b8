"""Every command accepts a queue's full SQS name (prefix and suffix, as tables and logs print
it) as well as its registered name."""

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from django_sqs import dead_letters, register, send, send_many
from django_sqs.exceptions import UnknownQueue
from django_sqs.registry import registry
from django_sqs.selection import select_queues
from django_sqs.status import queue_counts
from tests.queue_helpers import counts
from tests.receivers import calls, echo


def run(*args):
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_a_full_name_selects_its_registered_queue():
    assert [rq.name for rq in select_queues(["t__echo"])] == ["echo"]
    assert [rq.name for rq in select_queues(["t__echo__big"], receivers_only=True)] == ["echo"]
    assert registry.find_full_name("t__echo__small") == (registry.get("echo"), "small")
    assert registry.find_full_name("echo") is None  # a registered name is not a full name
    with pytest.raises(CommandError, match="as a registered name or a full SQS name"):
        select_queues(["t__echo__huge"])


def test_runreceiver_serves_the_suffix_a_full_name_carries(sqs):
    echo(body="plain")
    echo(body="big one", suffix="big")
    call_command("runreceiver", "t__echo__big", "--burst")
    assert [c["body"] for c in calls] == ["big one"]
    calls.clear()
    call_command("runreceiver", "t__echo", "--burst")
    assert [c["body"] for c in calls] == ["plain"]


def test_runreceiver_refuses_contradicting_suffixes(sqs):
    with pytest.raises(CommandError, match="contradicts"):
        call_command("runreceiver", "t__echo__big", "--suffix", "small", "--burst")
    with pytest.raises(CommandError, match="different suffixes"):
        call_command("runreceiver", "t__echo__big", "t__echo__small", "--priority", "--burst")


def test_sqs_clear_of_a_suffixed_full_name_clears_only_that_queue(sqs):
    echo(body="stays")
    send_many("echo", ["a", "b"], suffix="big")
    assert run("sqs_clear", "t__echo__big").splitlines() == ["t__echo__big: deleted 2", "Deleted 2 messages."]
    assert queue_counts("t__echo")["visible"] == 1
    # The registered name still means the queue with all its suffixes.
    assert "t__echo: deleted 1" in run("sqs_clear", "echo")


def test_sqs_status_and_wait_accept_full_names(sqs):
    send("jobs", body={"n": 1})
    assert "t__jobs" in run("sqs_status", "t__jobs")
    run("sqs_clear", "t__jobs")
    assert "Empty: 1 queue." in run("sqs_wait", "t__jobs", "--timeout", "5")


def test_sqs_create_queues_accepts_a_full_name(sqs):
    assert "t__jobs: created" in run("sqs_create_queues", "t__jobs")


def test_sqs_redrive_accepts_the_full_name_and_its_suffix(server, monkeypatch):
    monkeypatch.setattr(dead_letters, "REDRIVE_WAIT_SECONDS", 0)
    register("orders", suffixes=("eu",), dead_letter_queue="orders_dlq")
    send_many("orders_dlq", ["a", "b"], suffix="eu")
    assert "Moved 2 messages from t__orders_dlq__eu to t__orders__eu." in run("sqs_redrive", "t__orders__eu")
    assert counts("t__orders__eu") == (2, 0)


def test_an_unknown_queue_says_how_to_declare_a_send_only_queue():
    with pytest.raises(UnknownQueue, match=r"django_sqs.register\('outbox'\)"):
        send("outbox", body="x")
