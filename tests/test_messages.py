"""Message classes: the wire format, round trips through SQS, SQS facts, lazy decoding."""

import base64
import datetime as dt
import json
import pathlib
import re
import uuid

import pytest

from django_sqs import register, send, send_many
from django_sqs.exceptions import BadMessage, MessageEncodeError
from django_sqs.message import Base64Message, JSONMessage, Message, ModelInstanceMessage
from django_sqs.provisioning import queue_url
from tests.models import Document, Photo


def receive(sqs, rq, suffix=None):
    """One received message of ``rq``, as its message class would see it."""
    got = sqs.receive_message(
        QueueUrl=queue_url(rq, suffix), AttributeNames=["All"], MessageAttributeNames=["All"], MaxNumberOfMessages=1
    )
    (record,) = got["Messages"]
    return rq.message_class.from_sqs(record, queue_name=rq.full_name(suffix))


def raw_bodies(sqs, rq):
    got = sqs.receive_message(QueueUrl=queue_url(rq), MaxNumberOfMessages=10)
    return [m["Body"] for m in got.get("Messages", [])]


def record(body, **attributes):
    return {"MessageId": "m-1", "ReceiptHandle": "rh-1", "Body": body, "Attributes": attributes}


# -- the wire format ---------------------------------------------------------------------


def test_message_sends_text_as_is(sqs):
    rq = register("texts")
    send("texts", body="héllo wörld ✓")
    assert raw_bodies(sqs, rq) == ["héllo wörld ✓"]


def test_base64_message_sends_base64_of_utf8(sqs):
    rq = register("b64", message_class=Base64Message)
    send("b64", body="héllo")
    assert raw_bodies(sqs, rq) == [base64.b64encode("héllo".encode()).decode()]


def test_json_message_sends_json(sqs):
    rq = register("json", message_class=JSONMessage)
    send("json", body={"a": [1, 2], "b": "é"})
    (raw,) = raw_bodies(sqs, rq)
    assert json.loads(raw) == {"a": [1, 2], "b": "é"}


@pytest.mark.django_db
def test_model_instance_message_sends_app_label_model_and_pk(sqs):
    rq = register("photos_wire", message_class=ModelInstanceMessage)
    photo = Photo.objects.create(title="sunset")
    send("photos_wire", instance=photo)
    (raw,) = raw_bodies(sqs, rq)
    assert json.loads(raw) == {"app_label": "tests", "model": "photo", "pk": str(photo.pk)}


# -- round trips through SQS ---------------------------------------------------------------


@pytest.mark.parametrize(
    "message_class, body",
    [
        (Message, "plain text ✓"),
        (Base64Message, "base64 text ✓"),
        (JSONMessage, {"n": 1, "items": ["a", None, True], "name": "é"}),
        (JSONMessage, [1, 2, 3]),
        (JSONMessage, "just a string"),
    ],
)
def test_round_trip(sqs, message_class, body):
    rq = register("roundtrip", message_class=message_class)
    send("roundtrip", body=body)
    message = receive(sqs, rq)
    assert type(message) is message_class
    assert message.get_body() == body


@pytest.mark.django_db
def test_every_class_round_trips_through_a_real_server_over_http(server):
    from django_sqs.client import get_client

    photo = Photo.objects.create(title="over http")
    cases = [
        (Message, {"body": "text ✓"}, "text ✓"),
        (Base64Message, {"body": "base64 ✓"}, "base64 ✓"),
        (JSONMessage, {"body": {"a": ["é", 1]}}, {"a": ["é", 1]}),
    ]
    for i, (cls, fields, expected) in enumerate(cases):
        rq = register(f"http{i}", message_class=cls)
        send(rq.name, **fields)
        assert receive(get_client(), rq).get_body() == expected
    rq = register("http_model", message_class=ModelInstanceMessage)
    send("http_model", instance=photo)
    assert receive(get_client(), rq).get_instance() == photo


@pytest.mark.django_db
def test_model_instance_round_trip_fetches_the_row_fresh(sqs):
    rq = register("photos_rt", message_class=ModelInstanceMessage)
    photo = Photo.objects.create(title="before")
    send("photos_rt", ModelInstanceMessage(instance=photo))
    Photo.objects.filter(pk=photo.pk).update(title="after")
    message = receive(sqs, rq)
    instance = message.get_instance()
    assert isinstance(instance, Photo)
    assert instance.pk == photo.pk
    assert instance.title == "after"
    assert message.get_instance() is instance  # fetched once


@pytest.mark.django_db
def test_model_instance_round_trip_with_a_uuid_primary_key(sqs):
    rq = register("docs", message_class=ModelInstanceMessage)
    doc = Document.objects.create(name="contract")
    send("docs", instance=doc)
    assert receive(sqs, rq).get_instance() == doc


def test_message_attributes_round_trip(sqs):
    rq = register("attrs")
    message = Message(body="with attributes")
    message.message_attributes = {"trace": {"DataType": "String", "StringValue": "abc"}}
    send("attrs", message)
    got = receive(sqs, rq)
    assert got.message_attributes["trace"]["StringValue"] == "abc"


# -- SQS facts on received messages -----------------------------------------------------------


def test_received_message_exposes_the_sqs_facts(sqs):
    rq = register("facts")
    before = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    msg_id = send("facts", body="x")
    message = receive(sqs, rq)
    assert message.id == msg_id
    assert message.receipt_handle
    assert message.receive_count == 1
    assert isinstance(message.sent_at, dt.datetime)
    assert message.sent_at.tzinfo is not None
    assert before - dt.timedelta(seconds=5) <= message.sent_at <= dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=5)
    assert message.attributes["ApproximateReceiveCount"] == "1"
    assert "SentTimestamp" in message.attributes
    assert message.queue_name == "t__facts"
    assert message.raw_body == "x"


def test_receive_count_grows_with_each_receive(sqs):
    rq = register("recount", visibility_timeout=0)
    send("recount", body="x")
    receive(sqs, rq)
    assert receive(sqs, rq).receive_count == 2


def test_facts_from_a_record():
    message = Message.from_sqs(record("b", ApproximateReceiveCount="3", SentTimestamp="1700000000123"))
    assert message.id == "m-1" and message.receipt_handle == "rh-1"
    assert message.receive_count == 3
    assert message.sent_at == dt.datetime(2023, 11, 14, 22, 13, 20, 123000, tzinfo=dt.timezone.utc)


def test_message_built_for_sending_has_no_facts():
    message = Message(body="x")
    assert message.id is None and message.receipt_handle is None
    assert message.sent_at is None and message.receive_count == 0
    assert message.get_body() == "x"


# -- lazy decoding and bad messages --------------------------------------------------------------


def test_bad_base64_is_a_bad_message_only_when_the_body_is_asked_for():
    message = Base64Message.from_sqs(record("not base64!!"))  # no error yet
    with pytest.raises(BadMessage, match="not base64"):
        message.get_body()


def test_base64_of_something_that_is_not_utf8_is_a_bad_message():
    message = Base64Message.from_sqs(record(base64.b64encode(b"\xff\xfe").decode()))
    with pytest.raises(BadMessage):
        message.get_body()


def test_bad_json_is_a_bad_message_only_when_the_body_is_asked_for():
    message = JSONMessage.from_sqs(record("{not json"))
    with pytest.raises(BadMessage, match="not JSON"):
        message.get_body()


def test_a_body_that_is_not_a_model_reference_is_a_bad_message():
    message = ModelInstanceMessage.from_sqs(record('{"app_label": "tests"}'))
    with pytest.raises(BadMessage, match="not a model reference"):
        message.get_instance()


def test_a_model_that_does_not_exist_is_a_bad_message():
    message = ModelInstanceMessage.from_sqs(record('{"app_label": "tests", "model": "nope", "pk": "1"}'))
    with pytest.raises(BadMessage, match="model tests.nope does not exist"):
        message.get_instance()


@pytest.mark.django_db
def test_a_deleted_row_is_a_bad_message(sqs):
    rq = register("photos_gone", message_class=ModelInstanceMessage)
    photo = Photo.objects.create(title="gone soon")
    send("photos_gone", instance=photo)
    pk = photo.pk
    photo.delete()
    message = receive(sqs, rq)  # fetching the batch does not touch the database
    with pytest.raises(BadMessage, match=f"tests.Photo with pk='{pk}' does not exist"):
        message.get_instance()


@pytest.mark.django_db
def test_an_invalid_primary_key_is_a_bad_message():
    message = ModelInstanceMessage.from_sqs(record('{"app_label": "tests", "model": "document", "pk": "not-a-uuid"}'))
    with pytest.raises(BadMessage, match="is invalid"):
        message.get_instance()


def test_a_bad_message_is_decoded_only_once():
    calls = []

    class Counting(Message):
        def decode_body(self, raw):
            calls.append(raw)
            return raw

    message = Counting.from_sqs(record("x"))
    message.get_body()
    message.get_body()
    assert calls == ["x"]


# -- encode errors --------------------------------------------------------------------------------


@pytest.mark.parametrize("body", [5, None, b"bytes", {"a": 1}])
def test_message_sends_only_text(body):
    with pytest.raises(MessageEncodeError, match="Message sends text"):
        Message(body=body).encode()


def test_base64_message_sends_only_text():
    with pytest.raises(MessageEncodeError):
        Base64Message(body=5).encode()


@pytest.mark.parametrize("body", [{1, 2}, object(), float("nan"), {"when": dt.datetime(2025, 1, 1)}])
def test_json_message_refuses_what_json_cannot_hold(body):
    with pytest.raises(MessageEncodeError, match="not JSON-serialisable"):
        JSONMessage(body=body).encode()


def test_unsaved_instance_is_refused():
    with pytest.raises(MessageEncodeError, match="needs a saved instance"):
        ModelInstanceMessage(instance=Photo(title="unsaved"))


def test_unsaved_instance_with_a_uuid_primary_key_is_refused():
    # Its pk has a value (uuid4 default) before the row exists.
    doc = Document(name="unsaved")
    assert doc.pk is not None
    with pytest.raises(MessageEncodeError, match="needs a saved instance"):
        ModelInstanceMessage(instance=doc)


def test_model_instance_message_of_something_else_is_refused():
    with pytest.raises(MessageEncodeError, match="needs a model instance, not dict"):
        ModelInstanceMessage(instance={"pk": 1})


def test_a_message_of_another_class_is_refused(server):
    register("json", message_class=JSONMessage)
    with pytest.raises(MessageEncodeError, match="Queue 'json' sends JSONMessage instances; got Message"):
        send("json", Message(body="{}"))
    with pytest.raises(MessageEncodeError, match="got Base64Message"):
        send_many("json", [JSONMessage(body=1), Base64Message(body="x")])
    assert server.counts() == {}


def test_a_message_of_a_subclass_is_accepted(sqs):
    class Tagged(JSONMessage):
        pass

    rq = register("json", message_class=JSONMessage)
    send("json", Tagged(body={"a": 1}))
    assert raw_bodies(sqs, rq) == ['{"a":1}']


def test_model_instance_message_needs_an_instance():
    with pytest.raises(MessageEncodeError, match="needs instance="):
        ModelInstanceMessage(body="photo 1").encode()


def test_encode_errors_come_out_of_send_before_any_request(server):
    register("texts")
    register("json", message_class=JSONMessage)
    register("photos_x", message_class=ModelInstanceMessage)
    with pytest.raises(MessageEncodeError):
        send("texts", body=42)
    with pytest.raises(MessageEncodeError):
        send("json", body={"a set"})
    with pytest.raises(MessageEncodeError):
        send("photos_x", instance=Photo(title="unsaved"))
    with pytest.raises(MessageEncodeError):
        send("texts", "a str, not a Message")
    assert server.counts() == {}


def test_message_and_fields_together_is_a_type_error():
    register("texts")
    with pytest.raises(TypeError, match="not both"):
        send("texts", Message(body="a"), body="b")


# -- custom message classes -------------------------------------------------------------------------


class CSVMessage(Message):
    """The interface a project implements: encode_body on send, decode_body on receive."""

    def encode_body(self, body):
        if not isinstance(body, (list, tuple)):
            raise MessageEncodeError("CSVMessage sends a list")
        return ",".join(body)

    def decode_body(self, raw):
        if not raw:
            raise BadMessage("empty CSV")
        return raw.split(",")


def test_custom_message_class_round_trip(sqs):
    rq = register("csv", message_class=CSVMessage)
    send("csv", body=["a", "b", "c"])
    assert raw_bodies(sqs, rq) == ["a,b,c"]
    send("csv", body=["d", "e"])
    assert receive(sqs, rq).get_body() == ["d", "e"]


def test_custom_message_class_errors():
    register("csv", message_class=CSVMessage)
    with pytest.raises(MessageEncodeError, match="sends a list"):
        send("csv", body="a,b")
    with pytest.raises(BadMessage, match="empty CSV"):
        CSVMessage.from_sqs(record("")).get_body()


def test_custom_class_that_returns_bytes_is_refused():
    class Bytes(Message):
        def encode_body(self, body):
            return body.encode()

    register("bytes", message_class=Bytes)
    with pytest.raises(MessageEncodeError, match="must return str"):
        send("bytes", body="x")


# -- pickle is never used ----------------------------------------------------------------------------


def test_pickle_is_never_used():
    package = pathlib.Path(__import__("django_sqs").__file__).parent
    uses = re.compile(r"^\s*(import|from)\s+(c?pickle|dill|shelve)\b|\bpickle\.(loads?|dumps?)\b", re.MULTILINE)
    for path in package.rglob("*.py"):
        assert not uses.search(path.read_text()), path
    with pytest.raises(MessageEncodeError):  # arbitrary objects are refused, never pickled
        JSONMessage(body=uuid.uuid4()).encode()


# -- ModelInstanceMessage: the models a queue accepts ---------------------------------------------


class PhotoMessage(ModelInstanceMessage):
    allowed_models = ("tests.Photo",)


@pytest.mark.django_db
def test_allowed_models_on_the_class_loads_those_and_refuses_others(sqs):
    rq = register("photos_only", message_class=PhotoMessage)
    photo = Photo.objects.create(title="sunset")
    send("photos_only", instance=photo)
    assert receive(sqs, rq).get_instance() == photo
    # Anyone who may send to the queue can write any body: a Document by reference.
    doc = Document.objects.create(name="secret")
    body = json.dumps({"app_label": "tests", "model": "document", "pk": str(doc.pk)})
    sqs.send_message(QueueUrl=queue_url(rq), MessageBody=body)
    message = receive(sqs, rq)
    with pytest.raises(BadMessage, match=r"model tests.document is not one this queue accepts \(tests.photo\)"):
        message.get_instance()


@pytest.mark.django_db
def test_sending_a_model_outside_allowed_models_is_refused():
    register("photos_only", message_class=PhotoMessage)
    doc = Document.objects.create(name="x")
    with pytest.raises(MessageEncodeError, match="PhotoMessage carries tests.photo only, not tests.Document"):
        send("photos_only", instance=doc)


@pytest.mark.django_db
def test_allowed_models_in_the_receiver(sqs):
    rq = register("any_model", message_class=ModelInstanceMessage)
    doc = Document.objects.create(name="x")
    send("any_model", instance=doc)
    message = receive(sqs, rq)
    with pytest.raises(BadMessage, match="tests.document is not one this queue accepts"):
        message.get_instance(models=[Photo])
    assert message.get_instance(models=[Document, "tests.Photo"]) == doc


@pytest.mark.django_db
def test_a_refused_model_is_a_bad_message_for_the_worker(caplog):
    # Through the receiver and handling, as the worker runs it: logged, not run, deleted.
    from django_sqs import handling

    seen = []
    rq = register("photos_worker", lambda m: seen.append(m.get_instance()), message_class=PhotoMessage)
    doc = Document.objects.create(name="x")
    record = {"MessageId": "m1", "Body": json.dumps({"app_label": "tests", "model": "document", "pk": str(doc.pk)})}
    message = handling.decode_message(rq, record, rq.full_name())
    with caplog.at_level("ERROR", logger="django_sqs.worker"):
        outcome = handling.run_receiver(rq, message)
    assert seen == [] and outcome.reason == "bad message" and outcome.delete
    assert "bad message queue=t__photos_worker id=m1 reason=model tests.document is not one" in caplog.text
