"""Dead-letter queues through the worker, send_to_dead_letter_queue and sqs_redrive, against a
real local SQS server."""

import io
import json
import time

import botocore.exceptions
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from django_sqs import dead_letters, eager, register, send, send_many, send_to_dead_letter_queue
from django_sqs.client import get_client
from django_sqs.exceptions import ConfigurationError, SQSError
from django_sqs.message import JSONMessage, Message
from django_sqs.registry import registry
from tests.queue_helpers import counts, drain, run

seen: list[dict] = []


def failing(message):
    seen.append(message.get_body())
    raise ValueError("failing on purpose")


def hopeless(message):
    body = message.get_body()
    seen.append(body)
    if body.get("give_up"):
        send_to_dead_letter_queue(message, reason="no such customer")


@pytest.fixture(autouse=True)
def _seen(monkeypatch):
    # moto's short poll sees every message: no need to long-poll for the end of a redrive.
    monkeypatch.setattr(dead_letters, "REDRIVE_WAIT_SECONDS", 0)
    seen.clear()
    yield
    seen.clear()


@pytest.fixture
def doomed():
    """Fails every time; SQS moves its message after 2 receives, 1 s apart."""
    return register(
        "doomed", failing, message_class=JSONMessage, visibility_timeout=1,
        dead_letter_queue="doomed_dlq", max_receive_count=2,
    )


@pytest.fixture
def fast_redrive(monkeypatch):
    """Messages an interrupted redrive held come back to the dead-letter queue after 1 s."""
    monkeypatch.setattr(dead_letters, "REDRIVE_VISIBILITY_TIMEOUT", 1)


def bodies(full_name):
    return [r["Body"] for r in drain(full_name)]


# -- SQS moves a failing message ---------------------------------------------------------------


def test_failing_message_lands_in_the_dead_letter_queue_and_redrive_brings_it_back(server, doomed):
    assert doomed.delete_on_error is False  # the default with a dead-letter queue
    send("doomed", body={"n": 1})
    for _ in range(8):
        call_command("runreceiver", "doomed", "--burst")
        if counts("t__doomed_dlq")[0]:
            break
        time.sleep(1.1)  # the visibility timeout
    assert seen == [{"n": 1}, {"n": 1}]  # max_receive_count receives, then SQS moved it
    assert counts("t__doomed_dlq") == (1, 0)
    assert counts("t__doomed") == (0, 0)

    output = run("sqs_redrive", "doomed")
    assert output.strip() == "Moved 1 message from t__doomed_dlq to t__doomed."
    assert counts("t__doomed_dlq") == (0, 0)
    assert bodies("t__doomed") == ['{"n":1}']


def test_redrive_of_a_suffixed_queue_uses_the_suffixed_dead_letter_queue(server):
    register("orders", suffixes=("eu",), dead_letter_queue="orders_dlq")
    send_many("orders_dlq", ["a", "b"], suffix="eu")
    send("orders_dlq", body="not this one")
    assert "Moved 2 messages from t__orders_dlq__eu to t__orders__eu." in run("sqs_redrive", "orders", "--suffix", "eu")
    assert sorted(bodies("t__orders__eu")) == ["a", "b"]
    assert counts("t__orders_dlq") == (1, 0)


def test_redrive_max(server, doomed):
    send_many("doomed_dlq", [{"n": i} for i in range(25)])
    assert "Moved 12 messages" in run("sqs_redrive", "doomed", "--max", "12")
    assert counts("t__doomed") == (12, 0)
    assert counts("t__doomed_dlq") == (13, 0)
    assert "Moved 13 messages" in run("sqs_redrive", "doomed")
    assert sorted(bodies("t__doomed"), key=lambda b: int(b[5:-1])) == [f'{{"n":{i}}}' for i in range(25)]


def test_redrive_keeps_message_attributes(server):
    register("mail", dead_letter_queue="mail_dlq")
    message = Message(body="hello")
    message.message_attributes = {"trace": {"DataType": "String", "StringValue": "abc"}}
    send("mail_dlq", message)
    run("sqs_redrive", "mail")
    (record,) = drain("t__mail")
    assert record["Body"] == "hello"
    assert record["MessageAttributes"]["trace"]["StringValue"] == "abc"


def test_redrive_of_an_empty_dead_letter_queue(server, doomed):
    send("doomed", body={})  # creates both queues
    assert run("sqs_redrive", "doomed").strip() == "Moved 0 messages from t__doomed_dlq to t__doomed."


def test_redrive_refuses_what_it_cannot_do(server, doomed):
    register("plain")
    with pytest.raises(CommandError, match="'plain' declares no dead_letter_queue"):
        call_command("sqs_redrive", "plain")
    with pytest.raises(CommandError, match="the dead-letter queue of 'doomed'"):
        call_command("sqs_redrive", "doomed_dlq")
    with pytest.raises(CommandError, match="No queue named 'nope'.*doomed"):
        call_command("sqs_redrive", "nope")
    with pytest.raises(CommandError, match="t__doomed_dlq.*does not exist"):
        call_command("sqs_redrive", "doomed")
    assert set(server.counts()) == {"GetQueueUrl"}  # nothing created


def test_redrive_to_an_undeclared_suffix_is_a_usage_error(server, doomed):
    with pytest.raises(CommandError, match="Suffix 'us' is not declared for queue 'doomed'"):
        call_command("sqs_redrive", "doomed", "--suffix", "us")
    assert set(server.counts()) == set()  # refused before any request


def test_redrive_warns_about_a_shared_dead_letter_queue(server):
    register("a", dead_letter_queue="shared_dlq")
    register("b", dead_letter_queue="shared_dlq")
    send("shared_dlq", body="x")
    err = io.StringIO()
    call_command("sqs_redrive", "a", stdout=io.StringIO(), stderr=err)
    assert "also the dead-letter queue of b" in err.getvalue()


def test_redrive_goes_on_after_a_round_of_only_refused_messages(server, doomed, monkeypatch):
    # SQS refuses the first 10 messages; they come back visible before the other 5, so one
    # round receives only messages refused already. That is not the end of the queue.
    monkeypatch.setattr(dead_letters, "REDRIVE_VISIBILITY_TIMEOUT", 3)
    send_many("doomed_dlq", [{"n": i} for i in range(15)])
    client = get_client()
    original = client.send_message_batch
    calls = []

    def refuse_first_batch(**kwargs):
        calls.append(kwargs)
        if len(calls) == 1:
            time.sleep(3.2)  # until the refused ones are visible again, in front of the others
            return {"Successful": [], "Failed": [
                {"Id": e["Id"], "Code": "InvalidParameterValue", "Message": "refused", "SenderFault": True}
                for e in kwargs["Entries"]
            ]}
        return original(**kwargs)

    monkeypatch.setattr(client, "send_message_batch", refuse_first_batch)
    with pytest.raises(CommandError, match=r"SQS refused 10 message\(s\)"):
        call_command("sqs_redrive", "doomed", stdout=(out := io.StringIO()), stderr=io.StringIO())
    assert "Moved 5 messages" in out.getvalue()
    assert sorted(json.loads(b)["n"] for b in bodies("t__doomed")) == list(range(10, 15))
    time.sleep(3.2)
    assert counts("t__doomed_dlq") == (10, 0)  # the refused ones stay, nothing is lost


# -- interrupted redrives lose nothing ---------------------------------------------------------


def interrupt_once(monkeypatch, action, exception, after_call=True, on_call=2):
    """Make the ``on_call``-th call of ``action`` on the client raise, after SQS did it
    (the reply is lost) or before."""
    client = get_client()
    original = getattr(client, action)
    calls = []

    def wrapper(**kwargs):
        calls.append(kwargs)
        if len(calls) != on_call:
            return original(**kwargs)
        if after_call:
            original(**kwargs)
        raise exception

    monkeypatch.setattr(client, action, wrapper)
    return lambda: monkeypatch.setattr(client, action, original)


@pytest.mark.parametrize("action", ["receive_message", "send_message_batch", "delete_message_batch"])
def test_redrive_interrupted_anywhere_loses_nothing(server, doomed, fast_redrive, monkeypatch, action):
    expected = [f'{{"n":{i}}}' for i in range(25)]
    send_many("doomed_dlq", [{"n": i} for i in range(25)])
    restore = interrupt_once(monkeypatch, action, KeyboardInterrupt())
    with pytest.raises(CommandError, match="Interrupted; no message was lost") as excinfo:
        run("sqs_redrive", "doomed")
    assert excinfo.value.returncode == 130
    restore()
    time.sleep(1.2)  # what the interrupted run held is visible in the dead-letter queue again
    run("sqs_redrive", "doomed")
    moved = bodies("t__doomed")
    assert set(moved) == set(expected)  # every message is in the queue
    assert len(moved) <= len(expected) + 10  # at most the interrupted round twice
    assert counts("t__doomed_dlq") == (0, 0)


def test_redrive_interrupted_after_sending_reports_what_is_in_both_queues(server, doomed, monkeypatch):
    send_many("doomed_dlq", [{"n": i} for i in range(15)])
    interrupt_once(monkeypatch, "delete_message_batch", KeyboardInterrupt(), after_call=False)
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("sqs_redrive", "doomed", stdout=out)
    assert "Moved 15 messages" in out.getvalue()
    assert "5 of them could not be deleted from t__doomed_dlq and are in both queues." in out.getvalue()
    assert counts("t__doomed") == (15, 0)
    assert counts("t__doomed_dlq") == (0, 5)  # back after the redrive visibility timeout


def test_redrive_when_sqs_fails_mid_way(server, doomed, fast_redrive, monkeypatch):
    send_many("doomed_dlq", [{"n": i} for i in range(25)])
    error = botocore.exceptions.EndpointConnectionError(endpoint_url="http://127.0.0.1:1")
    restore = interrupt_once(monkeypatch, "send_message_batch", error, after_call=False)
    with pytest.raises(CommandError, match="No message was lost; run sqs_redrive again"):
        run("sqs_redrive", "doomed")
    restore()
    assert counts("t__doomed") == (10, 0)
    time.sleep(1.2)
    assert "Moved 15 messages" in run("sqs_redrive", "doomed")
    assert len(set(bodies("t__doomed"))) == 25


def test_delete_failing_during_redrive_is_retried_without_sending_again(server, doomed, fast_redrive, monkeypatch):
    send_many("doomed_dlq", [{"n": i} for i in range(3)])
    client = get_client()
    original = client.delete_message_batch
    calls = []

    def refuse_first(**kwargs):
        calls.append(kwargs)
        if len(calls) == 1:  # SQS refuses one entry
            kwargs = {**kwargs, "Entries": kwargs["Entries"][1:]}
            response = original(**kwargs)
            response["Failed"] = [{"Id": "0", "Code": "InternalError", "SenderFault": False}]
            time.sleep(1.2)  # until the refused one is visible again
            return response
        return original(**kwargs)

    monkeypatch.setattr(client, "delete_message_batch", refuse_first)
    output = run("sqs_redrive", "doomed")
    assert "Moved 3 messages" in output
    assert "in both queues" not in output
    assert len(bodies("t__doomed")) == 3
    assert counts("t__doomed_dlq") == (0, 0)


# -- FIFO ---------------------------------------------------------------------------------------


@pytest.fixture
def fifo_orders():
    return register("orders.fifo", dead_letter_queue="orders_dlq.fifo")


def test_fifo_redrive_keeps_groups_and_order(server, fifo_orders):
    for i in range(6):
        send("orders_dlq.fifo", body=f"{'ab'[i % 2]}{i}", group_id="ab"[i % 2])
    assert "Moved 6 messages" in run("sqs_redrive", "orders.fifo")
    records = drain("t__orders.fifo")
    by_group = {}
    for r in records:
        by_group.setdefault(r["Attributes"]["MessageGroupId"], []).append(r["Body"])
    assert by_group == {"a": ["a0", "a2", "a4"], "b": ["b1", "b3", "b5"]}


def test_fifo_redrive_interrupted_after_sending_does_not_duplicate(server, fifo_orders, fast_redrive, monkeypatch):
    for i in range(5):
        send("orders_dlq.fifo", body=f"m{i}", group_id="g")
    restore = interrupt_once(monkeypatch, "delete_message_batch", KeyboardInterrupt(), after_call=False, on_call=1)
    with pytest.raises(CommandError):
        run("sqs_redrive", "orders.fifo")
    restore()
    time.sleep(1.2)
    run("sqs_redrive", "orders.fifo")
    # The second send of each message had the same deduplication id: SQS kept one.
    assert [r["Body"] for r in drain("t__orders.fifo")] == [f"m{i}" for i in range(5)]
    assert counts("t__orders_dlq.fifo") == (0, 0)


# -- giving up early: send_to_dead_letter_queue ------------------------------------------------


@pytest.fixture
def jobs():
    return register("hopeless", hopeless, message_class=JSONMessage, suffixes=("eu",), dead_letter_queue="hopeless_dlq")


def test_receiver_gives_up_early(server, jobs):
    send("hopeless", body={"give_up": True, "n": 1})
    send("hopeless", body={"n": 2})
    call_command("runreceiver", "hopeless", "--burst")
    assert len(seen) == 2  # one receive each: no waiting for max_receive_count
    assert counts("t__hopeless") == (0, 0)  # the original was deleted as the receiver returned
    assert bodies("t__hopeless_dlq") == ['{"give_up":true,"n":1}']


def test_giving_up_on_a_suffixed_queue_uses_the_suffixed_dead_letter_queue(server, jobs):
    send("hopeless", body={"give_up": True}, suffix="eu")
    call_command("runreceiver", "hopeless", "--suffix", "eu", "--burst")
    assert bodies("t__hopeless_dlq__eu") == ['{"give_up":true}']
    names = [url.rpartition("/")[2] for url in get_client().list_queues()["QueueUrls"]]
    assert "t__hopeless_dlq" not in names


def test_giving_up_keeps_group_and_attributes_on_fifo(server):
    def give_up(message):
        send_to_dead_letter_queue(message)
        send_to_dead_letter_queue(message)  # twice: deduplicated by the message id

    register("orders.fifo", give_up, dead_letter_queue="orders_dlq.fifo")
    message = Message(body="x")
    message.message_attributes = {"trace": {"DataType": "String", "StringValue": "abc"}}
    send("orders.fifo", message, group_id="customer-7")
    call_command("runreceiver", "orders.fifo", "--burst")
    (record,) = drain("t__orders_dlq.fifo")
    assert record["Body"] == "x"
    assert record["Attributes"]["MessageGroupId"] == "customer-7"
    assert record["MessageAttributes"]["trace"]["StringValue"] == "abc"


def test_giving_up_fails_loudly_without_a_dead_letter_queue(server):
    errors = []

    def give_up(message):
        try:
            send_to_dead_letter_queue(message)
        except ConfigurationError as exc:
            errors.append(str(exc))

    register("plain", give_up)
    send("plain", body="x")
    call_command("runreceiver", "plain", "--burst")
    assert errors == [
        "Queue 'plain' has no dead-letter queue; declare one with receiver(..., dead_letter_queue=...) "
        "to use send_to_dead_letter_queue()."
    ]


def test_giving_up_needs_a_received_message():
    with pytest.raises(SQSError, match="needs a received message"):
        send_to_dead_letter_queue(Message(body="x"))


def test_giving_up_in_eager_mode(settings, jobs):
    settings.SQS_EAGER = True
    send("hopeless", body={"give_up": True})
    ((queue, message),) = eager.kept
    assert queue == "t__hopeless_dlq"
    assert message.get_body() == {"give_up": True}


def test_queue_of_finds_the_queue_and_suffix(jobs, recwarn):
    register("orders.fifo", suffixes=("eu",))
    assert dead_letters.queue_of("t__hopeless") == (jobs, None)
    assert dead_letters.queue_of("t__hopeless__eu") == (jobs, "eu")
    with pytest.raises(SQSError, match="No registered queue has the SQS name 't__hopeless__us'"):
        dead_letters.queue_of("t__hopeless__us")  # undeclared: nobody serves it
    assert dead_letters.queue_of("t__orders__eu.fifo") == (registry.get("orders.fifo"), "eu")
    with pytest.raises(SQSError, match="No registered queue has the SQS name 't__nope'"):
        dead_letters.queue_of("t__nope")


def test_bad_max_is_a_usage_error():
    register("doomed", failing, dead_letter_queue="doomed_dlq")
    with pytest.raises(CommandError, match="must be at least 1"):
        call_command("sqs_redrive", "doomed", "--max", "0")
