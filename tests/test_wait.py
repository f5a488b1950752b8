"""sqs_wait: until visible, in-flight and delayed are all zero, or a timeout."""

import io
import os
import subprocess
import sys
import threading
import time

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from django_sqs import register, send
from django_sqs.client import get_client
from django_sqs.management.commands.sqs_wait import Command
from django_sqs.registry import registry
from tests.processes import ROOT


class Terminal(io.StringIO):
    def isatty(self):
        return True


def run(*args, stdout=None):
    out = stdout or io.StringIO()
    call_command("sqs_wait", *args, stdout=out)
    return out.getvalue()


def test_empty_queues_return_at_once_and_are_not_created(sqs):
    started = time.monotonic()
    every = sum(len(rq.full_names()) for rq in registry)  # every registered queue and suffix
    assert every > 5
    assert run("--timeout=5") == f"Empty: {every} queues.\n"
    assert time.monotonic() - started < 2
    assert sqs.list_queues().get("QueueUrls", []) == []


def test_times_out_with_what_is_left(sqs):
    send("jobs", body={})
    started = time.monotonic()
    with pytest.raises(CommandError) as info:
        run("jobs", "echo", "--timeout=0.3", "--interval=0.1")
    assert 0.3 <= time.monotonic() - started < 2
    assert info.value.returncode == 1
    message = str(info.value)
    assert message.startswith("Timed out after 0.3s with 1 visible, 0 in flight, 0 delayed left")
    assert "t__jobs (1/0/0)" in message and "t__echo" not in message


def test_in_flight_and_delayed_messages_are_waited_for(sqs):
    send("jobs", body={"n": 1})
    send("echo", body="later", delay_seconds=300)
    url = sqs.get_queue_url(QueueName="t__jobs")["QueueUrl"]
    sqs.receive_message(QueueUrl=url, VisibilityTimeout=300)
    with pytest.raises(CommandError, match="0 visible, 1 in flight, 1 delayed left") as info:
        run("jobs", "echo", "--timeout=0.2", "--interval=0.1")
    assert "t__echo (0/0/1)" in str(info.value) and "t__jobs (0/1/0)" in str(info.value)


def test_returns_once_the_messages_are_consumed(sqs):
    send("jobs", body={})
    url = get_client().get_queue_url(QueueName="t__jobs")["QueueUrl"]

    def consume():
        time.sleep(0.3)
        c = get_client()  # this thread's own client
        (msg,) = c.receive_message(QueueUrl=url)["Messages"]
        c.delete_message(QueueUrl=url, ReceiptHandle=msg["ReceiptHandle"])

    consumer = threading.Thread(target=consume)
    consumer.start()
    started = time.monotonic()
    try:
        out = run("jobs", "--timeout=10", "--interval=0.05", "-v", "2")
    finally:
        consumer.join()
    assert time.monotonic() - started >= 0.3
    # Not a terminal: at verbosity 2, a line each time the counts change.
    assert [line.partition("s: ")[2] or line for line in out.splitlines()] == [
        "1 visible, 0 in flight, 0 delayed",
        "0 visible, 0 in flight, 0 delayed",
        "Empty: 1 queue.",
    ]


def test_progress_line_on_a_terminal(sqs):
    send("jobs", body={})
    out = Terminal()
    with pytest.raises(CommandError):
        run("jobs", "--timeout=0.25", "--interval=0.1", stdout=out)
    text = out.getvalue()
    assert text.count("\rwaiting 0s: 1 visible, 0 in flight, 0 delayed") >= 2  # rewritten in place
    assert text.endswith("\n") and text.count("\n") == 1


def test_quiet_when_not_a_terminal(sqs):
    assert run("jobs", "-v", "0") == ""


def test_dead_letter_queues_are_waited_for_only_when_named(sqs):
    register("orders", dead_letter_queue="orders_dlq")
    send("orders_dlq", body="dead")
    assert run("orders", "--timeout=0") == "Empty: 1 queue.\n"
    assert run("orders*", "--timeout=0") == "Empty: 1 queue.\n"  # shown under orders, not waited for
    with pytest.raises(CommandError, match="t__orders_dlq"):
        run("orders_dlq", "--timeout=0")


def test_unknown_queue_name(sqs):
    with pytest.raises(CommandError, match="No registered queue matches 'nope'"):
        run("nope")


@pytest.mark.parametrize(
    "option, error",
    [("--interval=0", "must be more than 0"), ("--interval=x", "is not a number"), ("--timeout=-1", "must be at least 0")],
)
def test_bad_numbers_are_usage_errors(sqs, option, error):
    with pytest.raises(CommandError, match=error):
        run(option)


def test_help_explains_the_options():
    text = Command().create_parser("manage.py", "sqs_wait").format_help()
    assert "--timeout S" in text and "--interval S" in text and "exit with status 1" in text


def manage(server, *args):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DJANGO_SQS_TEST_ENDPOINT": server.url,
        "PYTHONPATH": str(ROOT),
    }
    return subprocess.run(
        [sys.executable, "-m", "django", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )


def test_exit_status_from_the_command_line(server):
    send("jobs", body={})
    busy = manage(server, "sqs_wait", "jobs", "--timeout=0.2", "--interval=0.1")
    assert busy.returncode == 1
    assert "Timed out after 0.2s" in busy.stderr
    call_command("sqs_clear", "jobs", stdout=io.StringIO())
    empty = manage(server, "sqs_wait", "jobs", "--timeout=5")
    assert empty.returncode == 0, empty.stderr
    assert empty.stdout == "Empty: 1 queue.\n"
