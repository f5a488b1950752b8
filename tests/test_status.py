"""sqs_status and django_sqs.status: the report, its layout and its requests."""

import io
import json

import botocore.exceptions
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from django_sqs import register, send, send_many, status
from django_sqs.client import get_client
from django_sqs.management.commands.sqs_status import Command


def run(*args):
    out = io.StringIO()
    call_command("sqs_status", *args, stdout=out)
    return out.getvalue()


def lines_by_queue(output):
    """{full name (indentation kept): the rest of the line, split}."""
    header, *lines = output.splitlines()
    assert header.split() == ["QUEUE", "VISIBLE", "IN", "FLIGHT", "DELAYED"]
    table = {}
    for line in lines:
        name = line[: len(line) - len(line.lstrip())] + line.split()[0]
        table[name] = line.split()[1:]
    return table


@pytest.fixture
def orders():
    """A queue with a suffix and a dead-letter queue (registered with it)."""
    register("orders", suffixes=("eu",), dead_letter_queue="orders_dlq", max_receive_count=2)


def test_every_queue_and_suffix_with_counts(sqs):
    send_many("echo", ["a", "b"])
    send("echo", body="c", suffix="big")
    table = lines_by_queue(run())
    assert table["t__echo"] == ["2", "0", "0"]
    assert table["t__echo__big"] == ["1", "0", "0"]
    assert table["t__echo__small"] == ["-", "-", "-", "(not", "created", "yet)"]
    assert table["t__jobs"] == ["-", "-", "-", "(not", "created", "yet)"]
    # Every registered queue, in name order, suffixed queues after their queue.
    names = [name.strip() for name in table]
    assert names[:3] == ["t__at_most_once", "t__closes_db", "t__echo"]
    assert names.index("t__echo__big") == names.index("t__echo") + 1
    assert "t__tests__receivers__bare" in names


def test_columns_are_aligned(sqs):
    send_many("jobs", [{"n": i} for i in range(12)])
    header, *lines = run("jobs", "echo").splitlines()
    # Each count is right-aligned under its heading, whatever its width.
    for heading in ("VISIBLE", "IN FLIGHT", "DELAYED"):
        end = header.index(heading) + len(heading)
        for line in lines:
            assert line[end - 1] in "0123456789-" and line[end:end + 1] in ("", " "), (heading, line)
    assert lines[-1].split()[:2] == ["t__jobs", "12"]


def test_visible_in_flight_and_delayed(sqs):
    send_many("jobs", [{"n": 1}, {"n": 2}])
    send("jobs", body={"n": 3}, delay_seconds=300)
    url = sqs.get_queue_url(QueueName="t__jobs")["QueueUrl"]
    assert len(sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, VisibilityTimeout=300)["Messages"]) == 1
    assert lines_by_queue(run("jobs"))["t__jobs"] == ["1", "1", "1"]


def test_missing_queues_are_reported_not_created(sqs):
    output = run()
    assert "t__jobs" in output and "not created yet" in output
    assert sqs.list_queues().get("QueueUrls", []) == []


def test_a_queue_deleted_after_its_url_was_cached_is_not_created_yet(sqs):
    send("jobs", body={})
    assert lines_by_queue(run("jobs"))["t__jobs"] == ["1", "0", "0"]
    sqs.delete_queue(QueueUrl=sqs.get_queue_url(QueueName="t__jobs")["QueueUrl"])
    assert lines_by_queue(run("jobs"))["t__jobs"][3:] == ["(not", "created", "yet)"]
    # The stale URL is forgotten: once the queue exists again it is found again.
    send("jobs", body={})
    assert lines_by_queue(run("jobs"))["t__jobs"] == ["1", "0", "0"]


def test_dead_letter_queue_is_shown_once_under_its_queue(sqs, orders):
    send("orders", body="x")  # creates t__orders_dlq first, for the redrive policy
    send("orders_dlq", body="dead")
    output = run("orders*")  # the pattern selects orders_dlq too
    header, *lines = output.splitlines()
    assert [line.split()[0] for line in lines] == ["t__orders", "t__orders__eu", "t__orders_dlq", "t__orders_dlq__eu"]
    assert lines[2].startswith("  t__orders_dlq ")
    assert lines[2].endswith("(dead-letter queue)")
    assert lines[2].split()[1:4] == ["1", "0", "0"]
    assert lines[3].startswith("  t__orders_dlq__eu ")
    assert lines[3].endswith("(dead-letter queue, not created yet)")
    assert lines[0].split()[1:] == ["1", "0", "0"]
    assert lines[1].split()[1:] == ["-", "-", "-", "(not", "created", "yet)"]


def test_dead_letter_queue_alone_is_at_the_top(sqs, orders):
    lines = run("orders_dlq").splitlines()[1:]
    assert [line.split()[0] for line in lines] == ["t__orders_dlq", "t__orders_dlq__eu"]
    assert not lines[0].startswith(" ")
    assert "dead-letter" not in lines[0]


def test_naming_a_queue_shows_its_dead_letter_queue(sqs, orders):
    lines = run("orders").splitlines()[1:]
    assert [line.strip().split()[0] for line in lines] == ["t__orders", "t__orders__eu", "t__orders_dlq", "t__orders_dlq__eu"]


def test_all_queues_show_a_dead_letter_queue_only_under_its_queue(sqs, orders):
    names = [line.split()[0] for line in run().splitlines()[1:]]
    assert names.count("t__orders_dlq") == 1
    assert names.index("t__orders_dlq") == names.index("t__orders__eu") + 1


def test_json(sqs, orders):
    send("echo", body="a")
    rows = json.loads(run("--json", "echo", "orders"))
    assert rows[0] == {
        "queue": "echo", "suffix": None, "full_name": "t__echo", "exists": True,
        "visible": 1, "in_flight": 0, "delayed": 0, "dead_letter_queue_of": None,
    }
    assert rows[1]["full_name"] == "t__echo__big" and rows[1]["suffix"] == "big"
    assert rows[1]["exists"] is False and rows[1]["visible"] is None
    dlq = [r for r in rows if r["queue"] == "orders_dlq"]
    assert [r["full_name"] for r in dlq] == ["t__orders_dlq", "t__orders_dlq__eu"]
    assert all(r["dead_letter_queue_of"] == "orders" for r in dlq)
    assert len(rows) == 3 + 4


def test_unknown_queue_name_lists_the_registered_ones(sqs):
    with pytest.raises(CommandError) as info:
        run("nope")
    assert "'nope'" in str(info.value)
    assert "echo" in str(info.value) and "jobs" in str(info.value)


def test_sqs_errors_become_a_command_error(sqs, monkeypatch):
    send("jobs", body={})

    def refuse(**kwargs):
        raise botocore.exceptions.ClientError(
            {"Error": {"Code": "AccessDenied", "Message": "not allowed"}}, "GetQueueAttributes"
        )

    monkeypatch.setattr(get_client(), "get_queue_attributes", refuse)
    with pytest.raises(CommandError, match="GetQueueAttributes on queue 't__jobs' failed.*AccessDenied"):
        run("jobs")


def test_one_get_queue_attributes_per_existing_queue_and_never_list_or_create(server):
    send("echo", body="a")
    send("jobs", body={})
    server.reset_counts()
    rows = status.gather()
    counts = server.counts()
    assert {r.full_name for r in rows if r.exists} == {"t__echo", "t__jobs"}
    assert counts["GetQueueAttributes"] == 2
    assert "ListQueues" not in counts and "CreateQueue" not in counts
    # URLs are looked up once per process: a second report asks only for the attributes.
    server.reset_counts()
    status.gather()
    assert server.counts().get("GetQueueAttributes") == 2
    assert server.counts().get("GetQueueUrl", 0) == len(rows) - 2  # only the missing ones


def test_help_explains_the_options():
    text = Command().create_parser("manage.py", "sqs_status").format_help()
    assert "--json" in text and "shell-style patterns" in text and "not created" in text


def test_queues_under_the_prefix_that_nothing_registers_are_listed(server):
    send("echo", body="a")
    raw = get_client()
    for name in ("t__renamed_long_ago", "t__echo__retired", "other__mine", "tx__not_ours"):
        raw.create_queue(QueueName=name)
    server.reset_counts()
    output = run()
    assert "no registration declares" in output
    listed = output.split("no registration declares")[1].split()
    assert [n for n in listed if "__" in n] == ["t__echo__retired", "t__renamed_long_ago"]
    assert "t__echo" not in listed
    assert server.counts().get("ListQueues") == 1
    rows = json.loads(run("--json"))
    assert [r["full_name"] for r in rows if r["queue"] is None] == ["t__echo__retired", "t__renamed_long_ago"]
    # Named queues: the report of those only, no ListQueues.
    server.reset_counts()
    assert "no registration declares" not in run("echo")
    assert "ListQueues" not in server.counts()
