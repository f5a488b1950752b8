"""send, send_many, send_on_commit: ids, delays, batching, FIFO, the size limit, errors."""

import pytest
from django.db import transaction

import django_sqs.sending
from django_sqs import register, send, send_many, send_on_commit
from django_sqs.conf import MAX_MESSAGE_BYTES
from django_sqs.exceptions import (
    ConfigurationError,
    MessageEncodeError,
    MessageError,
    MessageTooLarge,
    SendError,
    SQSRequestError,
    UnknownQueue,
    UnknownSuffix,
)
from django_sqs.message import JSONMessage, Message, ModelInstanceMessage
from django_sqs.provisioning import queue_url
from tests.models import Photo


def receive_all(sqs, rq, suffix=None, **kwargs):
    """Every visible message of a (shallow) queue, as (MessageId, Body, Attributes)."""
    url = queue_url(rq, suffix)
    out = []
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"], **kwargs)
        records = got.get("Messages", [])
        if not records:
            return out
        out += [(m["MessageId"], m["Body"], m.get("Attributes", {})) for m in records]


def counts(sqs, rq):
    attrs = sqs.get_queue_attributes(QueueUrl=queue_url(rq), AttributeNames=["All"])["Attributes"]
    return {
        "visible": int(attrs["ApproximateNumberOfMessages"]),
        "delayed": int(attrs["ApproximateNumberOfMessagesDelayed"]),
    }


# -- send ------------------------------------------------------------------------------------


def test_send_returns_the_sqs_message_id(sqs):
    rq = register("mail")
    msg_id = send("mail", body="hello")
    assert isinstance(msg_id, str)
    assert [(i, b) for i, b, _ in receive_all(sqs, rq)] == [(msg_id, "hello")]


def test_send_builds_the_queue_message_class_from_keywords(sqs):
    rq = register("json", message_class=JSONMessage)
    send("json", body={"n": 1})
    assert [b for _, b, _ in receive_all(sqs, rq)] == ['{"n":1}']


def test_send_to_a_suffixed_queue(sqs):
    rq = register("mail", suffixes=("eu",))
    send("mail", body="eu", suffix="eu")
    assert [b for _, b, _ in receive_all(sqs, rq, "eu")] == ["eu"]
    assert receive_all(sqs, rq) == []


def test_send_to_an_undeclared_suffix_is_an_error_and_creates_nothing(sqs):
    register("mail")
    for call in (
        lambda: send("mail", body="x", suffix="adhoc"),
        lambda: send_many("mail", ["x"], suffix="adhoc"),
        lambda: send_on_commit("mail", body="x", suffix="adhoc"),
    ):
        with pytest.raises(UnknownSuffix, match="Suffix 'adhoc' is not declared for queue 'mail'"):
            call()
    assert sqs.list_queues().get("QueueUrls", []) == []


def test_unknown_queue_is_an_error_for_every_way_of_sending():
    for call in (lambda: send("nope", body="x"), lambda: send_many("nope", ["x"]), lambda: send_on_commit("nope", body="x")):
        with pytest.raises(UnknownQueue, match=r"'nope'.*registered: .*echo"):
            call()


# -- delay_seconds ------------------------------------------------------------------------------


def test_delay_seconds_delays_the_message(sqs):
    rq = register("later")
    send("later", body="in a while", delay_seconds=900)
    assert counts(sqs, rq) == {"visible": 0, "delayed": 1}
    assert receive_all(sqs, rq) == []


def test_delay_seconds_zero_is_immediate(sqs):
    rq = register("now")
    send("now", body="x", delay_seconds=0)
    assert counts(sqs, rq) == {"visible": 1, "delayed": 0}


def test_send_many_with_delay_seconds(sqs):
    rq = register("later")
    send_many("later", ["a", "b"], delay_seconds=600)
    assert counts(sqs, rq) == {"visible": 0, "delayed": 2}


@pytest.mark.parametrize("value", [-1, 901, "5", 1.5, True])
def test_delay_seconds_out_of_range_or_not_an_int_is_refused(server, value):
    register("later")
    with pytest.raises(MessageError, match="delay_seconds must be an int from 0 to 900"):
        send("later", body="x", delay_seconds=value)
    assert server.counts() == {}


# -- send_many ------------------------------------------------------------------------------------


def test_send_many_sends_ten_per_request_and_returns_ids_in_order(server):
    from django_sqs.client import get_client

    rq = register("bulk")
    bodies = [f"m{i:02}" for i in range(25)]
    ids = send_many("bulk", bodies)
    assert server.counts().get("SendMessageBatch") == 3
    assert "SendMessage" not in server.counts()
    assert len(ids) == 25 and len(set(ids)) == 25
    received = {msg_id: body for msg_id, body, _ in receive_all(get_client(), rq)}
    assert [received[i] for i in ids] == bodies


def test_send_many_accepts_messages_and_bodies(sqs):
    rq = register("bulk")
    ids = send_many("bulk", [Message(body="a"), "b"])
    assert sorted(b for _, b, _ in receive_all(sqs, rq)) == ["a", "b"]
    assert len(ids) == 2


def test_send_many_with_nothing_sends_nothing(server):
    register("bulk")
    assert send_many("bulk", []) == []
    assert server.counts() == {}


def test_send_many_splits_batches_by_size(server):
    register("big")
    body = "x" * 300_000  # four of these are over 1 MiB: three fit a request
    ids = send_many("big", [body + str(i) for i in range(4)])
    assert server.counts().get("SendMessageBatch") == 2
    assert len(ids) == 4 and None not in ids


def test_send_many_counts_bytes_not_characters(server):
    # 150,000 'é' are 300,000 bytes of UTF-8: four of them do not fit one request,
    # although they are only 600,000 characters.
    register("big")
    ids = send_many("big", ["é" * 150_000 + str(i) for i in range(4)])
    assert server.counts().get("SendMessageBatch") == 2
    assert len(ids) == 4


def test_batches():
    from django_sqs.sending import batches

    assert list(batches([{}] * 23, [1] * 23)) == [list(range(10)), list(range(10, 20)), [20, 21, 22]]
    half = MAX_MESSAGE_BYTES // 2
    assert list(batches([{}] * 3, [half, half, 1])) == [[0, 1], [2]]
    assert list(batches([{}] * 3, [half + 1, half, half])) == [[0], [1, 2]]


def test_send_many_of_model_instances(sqs, db):
    rq = register("photos_many", message_class=ModelInstanceMessage)
    photos = [Photo.objects.create(title=t) for t in ("a", "b")]
    send_many("photos_many", photos)
    got = [ModelInstanceMessage.from_sqs({"Body": b}).get_instance() for _, b, _ in receive_all(sqs, rq)]
    assert sorted(p.title for p in got) == ["a", "b"]


def test_send_many_checks_every_message_before_any_request(server):
    register("bulk")
    with pytest.raises(MessageEncodeError):
        send_many("bulk", ["fine", 42])
    with pytest.raises(MessageTooLarge):
        send_many("bulk", ["fine", "x" * (MAX_MESSAGE_BYTES + 1)])
    assert server.counts() == {}


def test_send_many_refuses_unknown_keywords():
    register("bulk")
    with pytest.raises(TypeError, match="unexpected keyword arguments: colour"):
        send_many("bulk", ["a"], colour="blue")


def fake_batch_sender(sqs, monkeypatch, failures):
    """Make SendMessageBatch refuse entries: ``failures`` is one list of (Id, SenderFault)
    per call; everything else succeeds. Returns the list of calls' entry ids."""
    calls = []
    real = sqs.send_message_batch

    def send_message_batch(QueueUrl, Entries):
        refuse = dict(failures[len(calls)]) if len(calls) < len(failures) else {}
        calls.append([e["Id"] for e in Entries])
        kept = [e for e in Entries if e["Id"] not in refuse]
        response = real(QueueUrl=QueueUrl, Entries=kept) if kept else {"Successful": []}
        response["Failed"] = [
            {"Id": i, "Code": "InternalError" if not fault else "InvalidParameterValue", "Message": "refused", "SenderFault": fault}
            for i, fault in refuse.items()
        ]
        return response

    monkeypatch.setattr(sqs, "send_message_batch", send_message_batch)
    monkeypatch.setattr(django_sqs.sending.time, "sleep", lambda s: None)
    return calls


def test_send_many_raises_send_error_with_the_failed_entries(sqs, monkeypatch):
    rq = register("bulk")
    fake_batch_sender(sqs, monkeypatch, [[("1", True)]])
    with pytest.raises(SendError) as excinfo:
        send_many("bulk", ["a", "b", "c"])
    error = excinfo.value
    assert error.failed == [(1, "InvalidParameterValue", "refused")]
    assert error.ids[1] is None and error.ids[0] and error.ids[2]
    assert "refused 1 of 3 messages" in str(error) and "'t__bulk'" in str(error)
    assert sorted(b for _, b, _ in receive_all(sqs, rq)) == ["a", "c"]


def test_send_many_retries_entries_that_failed_on_the_sqs_side(sqs, monkeypatch):
    rq = register("bulk")
    calls = fake_batch_sender(sqs, monkeypatch, [[("0", False), ("2", False)]])
    ids = send_many("bulk", ["a", "b", "c"])
    assert calls == [["0", "1", "2"], ["0", "2"]]
    assert None not in ids
    assert sorted(b for _, b, _ in receive_all(sqs, rq)) == ["a", "b", "c"]


def test_send_many_gives_up_on_server_failures_after_retries(sqs, monkeypatch):
    register("bulk")
    calls = fake_batch_sender(sqs, monkeypatch, [[("0", False)]] * 10)
    with pytest.raises(SendError) as excinfo:
        send_many("bulk", ["a", "b"])
    assert excinfo.value.failed == [(0, "InternalError", "refused")]
    assert len(calls) == 1 + django_sqs.sending.BATCH_RETRIES


# -- FIFO -------------------------------------------------------------------------------------------


def test_fifo_queue_is_created_with_content_based_deduplication(sqs):
    rq = register("orders.fifo")
    send("orders.fifo", body="x", group_id="customer-1")
    attrs = sqs.get_queue_attributes(QueueUrl=queue_url(rq), AttributeNames=["All"])["Attributes"]
    assert queue_url(rq).endswith("/t__orders.fifo")
    assert attrs["FifoQueue"] == "true"
    assert attrs["ContentBasedDeduplication"] == "true"


def test_fifo_send_needs_a_group_id(server):
    register("orders.fifo")
    with pytest.raises(MessageError, match="FIFO: pass group_id"):
        send("orders.fifo", body="x")
    with pytest.raises(MessageError, match="group_id"):
        send_many("orders.fifo", ["x"])
    assert server.counts() == {}


def test_fifo_messages_carry_their_group(sqs):
    rq = register("orders.fifo")
    send("orders.fifo", body="x", group_id="customer-1")
    ((_, _, attrs),) = receive_all(sqs, rq)
    assert attrs["MessageGroupId"] == "customer-1"


def test_fifo_default_is_content_based_deduplication(sqs):
    rq = register("orders.fifo")
    first = send("orders.fifo", body="same", group_id="g")
    send("orders.fifo", body="same", group_id="g")
    send("orders.fifo", body="other", group_id="g")
    assert [(i, b) for i, b, _ in receive_all(sqs, rq)][:1] == [(first, "same")]
    assert counts_fifo(sqs, rq) == 2


def counts_fifo(sqs, rq):
    attrs = sqs.get_queue_attributes(QueueUrl=queue_url(rq), AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])
    a = attrs["Attributes"]
    return int(a["ApproximateNumberOfMessages"]) + int(a["ApproximateNumberOfMessagesNotVisible"])


def test_fifo_deduplication_id(sqs):
    rq = register("orders.fifo")
    send("orders.fifo", body="one", group_id="g", deduplication_id="order-7")
    send("orders.fifo", body="two", group_id="g", deduplication_id="order-7")
    send("orders.fifo", body="one", group_id="g", deduplication_id="order-8")
    assert counts_fifo(sqs, rq) == 2


def test_fifo_send_many_keeps_order_within_the_group(sqs):
    rq = register("orders.fifo")
    bodies = [f"step {i}" for i in range(12)]
    send_many("orders.fifo", bodies, group_id="order-1")
    assert [b for _, b, _ in receive_all(sqs, rq)] == bodies[:10]  # FIFO hands out one batch per group


def test_send_many_refuses_one_deduplication_id_for_several_messages():
    register("orders.fifo")
    with pytest.raises(MessageError, match="one deduplication_id to several messages"):
        send_many("orders.fifo", ["a", "b"], group_id="g", deduplication_id="d")


def test_fifo_refuses_delay_seconds(server):
    register("orders.fifo")
    with pytest.raises(MessageError, match="FIFO: SQS refuses a per-message delay_seconds"):
        send("orders.fifo", body="x", group_id="g", delay_seconds=5)
    assert server.counts() == {}


def test_group_and_deduplication_ids_are_for_fifo_queues_only():
    register("mail")
    with pytest.raises(MessageError, match="for FIFO queues"):
        send("mail", body="x", group_id="g")
    with pytest.raises(MessageError, match="for FIFO queues"):
        send("mail", body="x", deduplication_id="d")


# -- the size limit -----------------------------------------------------------------------------------


def test_size_limit_counts_utf8_bytes_before_any_request(server):
    register("big")
    body = "é" * 600_000  # 600,000 characters, 1,200,000 bytes
    with pytest.raises(MessageTooLarge) as excinfo:
        send("big", body=body)
    assert "1,200,000 bytes" in str(excinfo.value)
    assert "1,048,576" in str(excinfo.value)
    assert "'big'" in str(excinfo.value)
    assert server.counts() == {}


def test_a_body_of_exactly_the_limit_is_sent(sqs):
    rq = register("big")
    send("big", body="a" * MAX_MESSAGE_BYTES)
    ((_, body, _),) = receive_all(sqs, rq)
    assert len(body) == MAX_MESSAGE_BYTES


def test_a_multibyte_body_of_exactly_the_limit_passes_the_check():
    rq = register("big")
    body = "é" * (MAX_MESSAGE_BYTES // 2)
    entry = django_sqs.sending.prepare_entry(rq, Message(body=body))
    assert entry["MessageBody"] == body
    with pytest.raises(MessageTooLarge):
        django_sqs.sending.prepare_entry(rq, Message(body=body + "a"))


def test_attributes_count_towards_the_limit():
    rq = register("big")
    message = Message(body="a" * (MAX_MESSAGE_BYTES - 10))
    message.message_attributes = {"trace": {"DataType": "String", "StringValue": "abc"}}  # 5 + 6 + 3 bytes
    with pytest.raises(MessageTooLarge, match="body plus attributes"):
        django_sqs.sending.prepare_entry(rq, message)


def test_json_size_is_counted_after_encoding(server):
    register("json", message_class=JSONMessage)
    with pytest.raises(MessageTooLarge):
        send("json", body={"text": "é" * 600_000})
    assert server.counts() == {}


# -- errors at the boto3 boundary ---------------------------------------------------------------------


def test_sqs_errors_are_wrapped_naming_the_action_and_queue(sqs, settings):
    register("mail")
    settings.SQS_QUEUE_URLS = {"t__mail": "https://sqs.us-east-1.amazonaws.com/123456789012/t__mail"}
    with pytest.raises(SQSRequestError) as excinfo:
        send("mail", body="x")
    assert "SendMessage on queue 't__mail' failed" in str(excinfo.value)
    assert excinfo.value.code in {"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"}
    assert excinfo.value.transient is False


# -- send_on_commit ------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_send_on_commit_sends_after_commit_only(sqs):
    rq = register("mail")
    with transaction.atomic():
        send_on_commit("mail", body="committed")
        assert receive_all(sqs, rq) == []
    assert [b for _, b, _ in receive_all(sqs, rq)] == ["committed"]


@pytest.mark.django_db(transaction=True)
def test_send_on_commit_sends_nothing_on_rollback(sqs):
    rq = register("mail")

    class Boom(Exception):
        pass

    with pytest.raises(Boom), transaction.atomic():
        send_on_commit("mail", body="rolled back")
        raise Boom
    assert receive_all(sqs, rq) == []


@pytest.mark.django_db(transaction=True)
def test_send_on_commit_outside_a_transaction_sends_at_once(sqs):
    rq = register("mail")
    send_on_commit("mail", body="now")
    assert [b for _, b, _ in receive_all(sqs, rq)] == ["now"]


@pytest.mark.django_db(transaction=True)
def test_proxy_send_on_commit_with_options(sqs):
    from django_sqs import receiver

    proxy = receiver("mail", suffixes=("eu",))(lambda m: None)
    with transaction.atomic():
        proxy.send_on_commit(body="later", suffix="eu", delay_seconds=900)
    assert counts(sqs, proxy.registered_queue) == {"visible": 0, "delayed": 0}
    url = queue_url(proxy.registered_queue, "eu")
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesDelayed"])
    assert attrs["Attributes"]["ApproximateNumberOfMessagesDelayed"] == "1"


def test_send_on_commit_checks_the_message_at_once(django_capture_on_commit_callbacks, db):
    register("mail")
    with django_capture_on_commit_callbacks() as callbacks:
        with pytest.raises(MessageEncodeError):
            send_on_commit("mail", body=42)
        with pytest.raises(MessageTooLarge):
            send_on_commit("mail", body="é" * 600_000)
    assert callbacks == []


def test_send_on_commit_with_captured_callbacks(sqs, django_capture_on_commit_callbacks, db):
    rq = register("mail")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        send_on_commit("mail", body="x")
        assert receive_all(sqs, rq) == []
    assert len(callbacks) == 1
    assert [b for _, b, _ in receive_all(sqs, rq)] == ["x"]


@pytest.mark.django_db(transaction=True)
def test_a_send_that_fails_after_commit_is_logged_with_its_body_and_spares_the_other_callbacks(server, settings, caplog):
    # The queue's URL points at a queue that does not exist: SendMessage fails after the commit.
    settings.SQS_QUEUE_URLS = {"t__gone": server.url + "/123456789012/t__gone"}
    register("gone", message_class=JSONMessage)
    ran = []
    with caplog.at_level("ERROR", logger="django_sqs"):
        with transaction.atomic():  # leaving it must not raise: the data is committed
            send_on_commit("gone", body={"order": 42})
            transaction.on_commit(lambda: ran.append("next callback"))
    assert ran == ["next callback"]
    (record,) = [r for r in caplog.records if "send after commit failed" in r.getMessage()]
    assert "queue=gone" in record.getMessage()
    assert 'body={"order":42}' in record.getMessage()  # enough to replay it
    assert record.exc_info and isinstance(record.exc_info[1], SQSRequestError)


@pytest.mark.django_db(transaction=True)
def test_a_send_on_commit_outside_a_transaction_raises_to_the_caller(server, settings):
    settings.SQS_QUEUE_URLS = {"t__gone": server.url + "/123456789012/t__gone"}
    register("gone")
    with pytest.raises(SQSRequestError):
        send_on_commit("gone", body="x")


def test_sending_refuses_the_prefix_the_system_check_refuses(sqs, settings):
    # E002: an empty prefix under DEBUG. A shell must not send to a queue no worker reads.
    register("mail")
    settings.DEBUG = True
    settings.SQS_QUEUE_PREFIX = ""
    for call in (
        lambda: send("mail", body="x"),
        lambda: send_many("mail", ["x"]),
        lambda: send_on_commit("mail", body="x"),
    ):
        with pytest.raises(ConfigurationError, match=r"SQS_QUEUE_PREFIX is empty while DEBUG is True.*django_sqs.E002"):
            call()
    assert sqs.list_queues().get("QueueUrls", []) == []
