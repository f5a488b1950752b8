"""SQS_EAGER: sending runs the receiver at once, in-process, with the worker's semantics."""

import logging

import pytest
from django.db import transaction

from django_sqs import RestartLater, eager, receiver, register, send, send_many, send_on_commit
from django_sqs.exceptions import BadMessage, MessageError, MessageTooLarge
from django_sqs.message import JSONMessage, Message
from tests.models import Photo
from tests.receivers import calls


@pytest.fixture(autouse=True)
def eager_mode(settings, server):
    """Eager, with a real server behind that must see no request at all."""
    settings.SQS_EAGER = True
    yield
    assert server.counts() == {}


def test_send_runs_the_receiver_at_once():
    msg_id = send("echo", body="hello")
    assert [(c["body"], c["id"], c["queue"], c["receive_count"]) for c in calls] == [("hello", msg_id, "t__echo", 1)]
    assert eager.kept == []


def test_message_goes_through_encode_and_decode():
    seen = []
    proxy = receiver("json", message_class=JSONMessage)(seen.append)
    sent = JSONMessage(body={"n": 1, "when": "now"})
    proxy(sent)
    (message,) = seen
    assert message is not sent
    assert type(message) is JSONMessage
    assert message.raw_body == '{"n":1,"when":"now"}'
    assert message.get_body() == {"n": 1, "when": "now"}
    assert message.sent_at is not None and message.receipt_handle


def test_proxy_call_and_suffix():
    from tests.receivers import echo

    echo(body="big one", suffix="big")
    assert [(c["body"], c["queue"]) for c in calls] == [("big one", "t__echo__big")]


def test_send_many_runs_each():
    ids = send_many("echo", ["a", "b", "c"])
    assert [c["body"] for c in calls] == ["a", "b", "c"]
    assert [c["id"] for c in calls] == ids


def test_restart_later_keeps_the_message():
    send("jobs", body={"action": "restart", "delay": 5})
    ((queue, message),) = eager.kept
    assert queue == "t__jobs"
    assert message.get_body() == {"action": "restart", "delay": 5}


def test_failing_receiver_is_logged_with_its_traceback_and_not_raised(caplog):
    with caplog.at_level(logging.ERROR, logger="django_sqs"):
        msg_id = send("jobs", body={"action": "fail"})
    assert msg_id
    (record,) = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert record.exc_info and record.exc_info[0] is ValueError
    assert "t__jobs" in record.getMessage() and msg_id in record.getMessage()
    assert eager.kept == []  # deleted, as the worker does by default


def test_failing_receiver_with_delete_on_error_false_keeps_the_message(caplog):
    with caplog.at_level(logging.ERROR, logger="django_sqs"):
        send("keep_on_error", body={"action": "fail"})
    assert [q for q, _ in eager.kept] == ["t__keep_on_error"]
    assert any(r.exc_info for r in caplog.records)


def test_delete_on_start_never_keeps_the_message(caplog):
    with caplog.at_level(logging.ERROR, logger="django_sqs"):
        send("at_most_once", body={"action": "fail"})
        send("at_most_once", body={"action": "restart"})
    assert [c["phase"] for c in calls] == ["start", "start"]
    assert eager.kept == []


def test_queue_without_receiver_keeps_the_message():
    register("outbox")
    send("outbox", body="nobody listens")
    ((queue, message),) = eager.kept
    assert queue == "t__outbox" and message.get_body() == "nobody listens"


def test_bad_message_is_handled_like_a_failure(caplog):
    class Broken(Message):
        def decode_body(self, raw):
            raise BadMessage("cannot read this")

    register("broken", lambda m: m.get_body(), message_class=Broken, delete_on_error=False)
    with caplog.at_level(logging.ERROR, logger="django_sqs"):
        send("broken", body="x")
    assert "cannot read this" in caplog.text
    assert [q for q, _ in eager.kept] == ["t__broken"]


def test_the_receiver_return_value_is_not_the_id():
    register("answers", lambda m: "the answer")
    assert send("answers", body="q") != "the answer"


@pytest.mark.django_db
def test_model_instance_is_fetched_in_the_receiver():
    photo = Photo.objects.create(title="sunset")
    send("photos", instance=photo)
    assert [c["title"] for c in calls] == ["sunset"]


def test_checks_still_apply():
    with pytest.raises(MessageTooLarge):
        send("echo", body="é" * 600_000)
    register("orders.fifo", lambda m: None)
    with pytest.raises(MessageError, match="group_id"):
        send("orders.fifo", body="x")
    assert calls == []


def test_fifo_group_is_visible_to_the_receiver():
    seen = []
    register("orders.fifo", seen.append)
    send("orders.fifo", body="x", group_id="customer-1")
    assert seen[0].group_id == "customer-1"


@pytest.mark.django_db(transaction=True)
def test_send_on_commit_runs_after_commit():
    with transaction.atomic():
        send_on_commit("echo", body="after commit")
        assert calls == []
    assert [c["body"] for c in calls] == ["after commit"]


def test_direct_call_runs_the_function_without_sending():
    from tests.receivers import echo

    echo.direct(Message.from_sqs({"MessageId": "m", "Body": "direct"}, queue_name="t__echo"))
    assert [(c["body"], c["id"]) for c in calls] == [("direct", "m")]


def test_restart_later_is_exported():
    assert issubclass(RestartLater, Exception)
    assert RestartLater(delay=5).delay == 5
    with pytest.raises(ValueError):
        RestartLater(delay=43201)
