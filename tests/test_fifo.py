"""FIFO queues against a real local SQS server: groups, no per-message delay, deduplication,
and per-group order through the worker."""

import pytest
from django.core.management import call_command

from django_sqs import RestartLater, register, send, send_many
from django_sqs.exceptions import MessageError
from tests.queue_helpers import counts, drain

handled: list[tuple[str, str]] = []


def record_order(message):
    body = message.get_body()
    if body == "a1" and message.receive_count == 1:
        handled.append((message.group_id, "a1 restart"))
        raise RestartLater(delay=0)
    handled.append((message.group_id, body))


@pytest.fixture
def orders():
    handled.clear()
    yield register("orders.fifo", record_order)
    handled.clear()


def test_group_id_is_required_and_nothing_is_sent_without_it(server, orders):
    with pytest.raises(MessageError, match="FIFO: pass group_id"):
        send("orders.fifo", body="x")
    with pytest.raises(MessageError, match="group_id"):
        send_many("orders.fifo", ["x", "y"])
    assert server.counts() == {}


def test_delay_is_refused_before_any_request(server, orders):
    with pytest.raises(MessageError, match="SQS refuses a per-message delay_seconds"):
        send("orders.fifo", body="x", group_id="g", delay_seconds=5)
    assert server.counts() == {}


def test_same_content_twice_is_one_message(server, orders):
    first = send("orders.fifo", body="paid", group_id="order-1")
    send("orders.fifo", body="paid", group_id="order-1")
    send("orders.fifo", body="shipped", group_id="order-1")
    records = drain("t__orders.fifo")
    assert [r["Body"] for r in records] == ["paid", "shipped"]
    assert records[0]["MessageId"] == first


def test_deduplication_id_wins_over_content(server, orders):
    send("orders.fifo", body="v1", group_id="g", deduplication_id="order-7-paid")
    send("orders.fifo", body="v2", group_id="g", deduplication_id="order-7-paid")
    send("orders.fifo", body="v1", group_id="g", deduplication_id="order-8-paid")
    assert [r["Body"] for r in drain("t__orders.fifo")] == ["v1", "v1"]


def test_worker_keeps_order_within_each_group(server, orders):
    # Interleaved groups; a1 asks to be restarted once: a2 and later must not overtake it.
    for i in range(5):
        for group in "abc":
            send("orders.fifo", body=f"{group}{i}", group_id=group)
    for _ in range(5):  # a released group may come back after an empty receive
        call_command("runreceiver", "orders.fifo", "--burst")
        if counts("t__orders.fifo") == (0, 0):
            break
    by_group: dict[str, list[str]] = {}
    for group, body in handled:
        by_group.setdefault(group, []).append(body)
    assert by_group == {
        "a": ["a0", "a1 restart", "a1", "a2", "a3", "a4"],
        "b": [f"b{i}" for i in range(5)],
        "c": [f"c{i}" for i in range(5)],
    }
    assert counts("t__orders.fifo") == (0, 0)
