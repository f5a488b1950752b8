"""One message's path through a handler thread when something goes wrong before its
receiver runs (issue 16 §5): a FIFO group's later messages never overtake a message that
stays in the queue, and a message whose visibility ran out is left alone."""

from __future__ import annotations

import time

import pytest
from django.core.management import call_command

from django_sqs import register, send
from django_sqs.message import JSONMessage
from django_sqs.worker import handlers as handlers_module
from django_sqs.worker import requests
from django_sqs.worker.dispatch import Counter, Dispatcher
from django_sqs.worker.handlers import Handlers
from django_sqs.worker.heartbeat import Heartbeat
from django_sqs.worker.sources import Held, Source
from tests.processes import wait_until
from tests.queue_helpers import counts
from tests.test_worker_hardening import refuse  # noqa: F401 (a fixture)

ran: list[int] = []


def _record(message):
    ran.append(message.get_body()["n"])


@pytest.fixture
def group_queue():
    ran.clear()
    return register("ordered.fifo", _record, visibility_timeout=2, message_class=JSONMessage, delete_on_start=True)


def send_group(n: int) -> None:
    for i in range(n):
        send("ordered.fifo", body={"n": i}, group_id="A")


def drain_twice() -> None:
    """A burst; then, once what stayed in flight is visible again, another."""
    call_command("runreceiver", "ordered.fifo", "--burst")
    wait_until(lambda: counts("t__ordered.fifo")[1] == 0, 10, message="nothing in flight")
    call_command("runreceiver", "ordered.fifo", "--burst")


def test_fifo_delete_on_start_failure_gives_the_group_back(server, group_queue, refuse):  # noqa: F811
    refuse["DeleteMessageBatch"] = 1  # the early delete of the group's first message fails
    send_group(3)
    drain_twice()
    assert ran == [0, 1, 2]
    assert counts("t__ordered.fifo") == (0, 0)


def test_fifo_bug_of_ours_gives_the_group_back(server, group_queue, monkeypatch):
    """An exception escaping the handler (a bug of ours) leaves the message in the queue:
    its group's later messages wait for it."""
    original = handlers_module.decode_message
    failed = []

    def decode_once(rq, record, full_name):
        if not failed:
            failed.append(record["MessageId"])
            raise RuntimeError("a bug of ours, on purpose")
        return original(rq, record, full_name)

    monkeypatch.setattr(handlers_module, "decode_message", decode_once)
    send_group(3)
    drain_twice()
    assert ran == [0, 1, 2]


def test_expired_before_its_turn_sends_nothing_and_gives_its_group_back(server, monkeypatch):
    """A message whose visibility ran out while it waited is not run, and nothing is sent
    with its stale receipt handle; on FIFO its group's later messages go back."""
    ran.clear()
    rq = register("expiring.fifo", _record, visibility_timeout=30, message_class=JSONMessage)
    source = Source(rq)
    sent: list[tuple[list[str], int, str]] = []
    monkeypatch.setattr(requests, "change_visibility", lambda held, s, why: sent.append(([h.id for h in held], s, why)) or held)
    released: list[list[str]] = []
    dispatcher = Dispatcher(threads=1, counter=Counter(), message_limit=None)
    heartbeat = Heartbeat(30)
    handlers = Handlers(
        threads=1, dispatcher=dispatcher, heartbeat=heartbeat, deleter=None,
        release=lambda held, why: released.append([h.id for h in held]), sender=object,
    )
    now = time.monotonic()

    def held(n, deadline):
        record = {"MessageId": f"m{n}", "ReceiptHandle": f"r{n}", "Body": f'{{"n": {n}}}', "Attributes": {"MessageGroupId": "A"}}
        # Received by a long poll (hidden 2 s, below the queue's 30 s): the case that sent
        # a stale ChangeMessageVisibility before.
        return Held(source, record, received_at=now - 3, deadline=deadline, visibility=2)

    expired, later = held(0, now - 1), held(1, now + 30)
    dispatcher.add([expired, later])
    assert dispatcher.take() is expired
    assert handlers.handle(expired) is False
    assert sent == []
    assert released == [["m1"]]
    assert ran == []


def test_idle_handler_threads_wait_without_waking_up_to_look():
    """``--threads 256`` idle must not burn CPU: an idle handler thread sleeps until a
    message arrives or the worker stops, instead of waking every half second."""
    import threading

    dispatcher = Dispatcher(threads=4, counter=Counter(), message_limit=None)
    waits: list = []
    real_wait = dispatcher.cond.wait

    def counted_wait(timeout=None):
        waits.append(timeout)
        return real_wait(timeout)

    dispatcher.cond.wait = counted_wait
    takers = [threading.Thread(target=dispatcher.take, daemon=True) for _ in range(4)]
    for thread in takers:
        thread.start()
    time.sleep(1.5)
    assert len(waits) == 4, f"idle threads woke up to look: {len(waits)} waits"
    dispatcher.close()
    for thread in takers:
        thread.join(5)
    assert not any(t.is_alive() for t in takers)
