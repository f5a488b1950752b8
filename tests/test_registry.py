"""receiver, register, the receiver proxy and the registry."""

import pytest

import django_sqs
from django_sqs import ReceiverProxy, receiver, register, send
from django_sqs.exceptions import ConfigurationError, MessageEncodeError, UnknownQueue
from django_sqs.message import JSONMessage, Message
from django_sqs.provisioning import queue_url
from django_sqs.registered_queue import RegisteredQueue
from django_sqs.registry import registry
from django_sqs.sending import send_message, send_messages


def receive_bodies(sqs, rq, suffix=None):
    got = sqs.receive_message(QueueUrl=queue_url(rq, suffix), MaxNumberOfMessages=10)
    return [m["Body"] for m in got.get("Messages", [])]


def test_public_names():
    for name in ("receiver", "register", "send", "send_many", "send_on_commit", "RestartLater"):
        assert hasattr(django_sqs, name)
    assert set(django_sqs.__all__) >= {"receiver", "register", "send", "send_many", "RestartLater"}


def test_receiver_with_arguments_registers_the_queue_and_its_options():
    def thumb(message):
        return "made"

    proxy = receiver(
        "thumbnails",
        visibility_timeout=300,
        message_class=JSONMessage,
        delete_on_start=True,
        close_database=True,
        suffixes=("big",),
    )(thumb)
    assert isinstance(proxy, ReceiverProxy)
    rq = registry.get("thumbnails")
    assert rq is proxy.registered_queue
    assert isinstance(rq, RegisteredQueue)
    assert rq.name == "thumbnails"
    assert rq.receiver is thumb
    assert rq.visibility_timeout == 300
    assert rq.get_visibility_timeout() == 300
    assert rq.message_class is JSONMessage
    assert rq.delete_on_start is True
    assert rq.close_database is True
    assert rq.suffixes == ("big",)


def test_receiver_defaults(settings):
    settings.SQS_DEFAULT_VISIBILITY_TIMEOUT = 42

    @receiver("plain")
    def plain(message):
        pass

    rq = plain.registered_queue
    assert rq.message_class is Message
    assert rq.visibility_timeout is None
    assert rq.get_visibility_timeout() == 42
    assert rq.delete_on_start is False and rq.close_database is False
    assert rq.suffixes == ()
    assert rq.delete_on_error is True


def test_bare():
    # Used bare, @receiver names the queue after the function's module and qualified name.
    @receiver
    def resize(message):
        pass

    assert isinstance(resize, ReceiverProxy)
    assert resize.registered_queue.name == "tests__test_registry__test_bare__locals__resize"
    assert resize.registered_queue.name in registry


def test_no_name():
    # Options without a name: the default name, too.
    @receiver(visibility_timeout=10)
    def resize(message):
        pass

    assert resize.registered_queue.name.endswith("__resize")
    assert resize.registered_queue.visibility_timeout == 10


def test_proxy_direct_is_the_function_and_wraps_its_metadata():
    def make_thumbnail(message):
        """Make one."""
        return message.get_body().upper()

    proxy = receiver("thumbnails")(make_thumbnail)
    assert proxy.direct is make_thumbnail
    assert proxy.direct(Message(body="x")) == "X"
    assert proxy.__name__ == "make_thumbnail"
    assert proxy.__doc__ == "Make one."
    assert "thumbnails" in repr(proxy)


def test_calling_the_proxy_sends_and_does_not_run_the_function(sqs):
    ran = []
    proxy = receiver("thumbnails", suffixes=("big",))(ran.append)
    msg_id = proxy(body="photo-42")
    assert isinstance(msg_id, str) and msg_id
    assert ran == []
    assert receive_bodies(sqs, proxy.registered_queue) == ["photo-42"]


def test_calling_the_proxy_with_a_message_instance_and_a_suffix(sqs):
    proxy = receiver("thumbnails", suffixes=("big",))(lambda m: None)
    proxy(Message(body="big one"), suffix="big")
    assert receive_bodies(sqs, proxy.registered_queue, "big") == ["big one"]
    assert queue_url(proxy.registered_queue, "big").endswith("/t__thumbnails__big")


def test_proxy_send_many(sqs):
    proxy = receiver("thumbnails")(lambda m: None)
    ids = proxy.send_many(["a", "b", "c"])
    assert len(ids) == 3 and len(set(ids)) == 3
    assert sorted(receive_bodies(sqs, proxy.registered_queue)) == ["a", "b", "c"]


def test_register_with_a_function_returns_the_registered_queue(sqs):
    def handle(message):
        pass

    rq = register("mail", handle, visibility_timeout=30, message_class=JSONMessage, suffixes=("eu",))
    assert isinstance(rq, RegisteredQueue)
    assert registry.get("mail") is rq
    assert rq.receiver is handle
    assert rq in registry.with_receivers()
    assert send("mail", body={"to": "a@example.com"})
    assert receive_bodies(sqs, rq) == ['{"to":"a@example.com"}']


def test_register_without_a_function_is_a_send_only_queue(sqs):
    rq = register("outbox")
    assert rq.receiver is None
    assert rq not in registry.with_receivers()
    send("outbox", body="hi")
    assert receive_bodies(sqs, rq) == ["hi"]


def test_a_registered_queue_is_a_declaration_sent_to_by_sending(sqs):
    rq = register("outbox")
    assert not hasattr(rq, "send") and not hasattr(rq, "url")
    assert send_message(rq, body="one")
    assert send_messages(rq, ["two"])
    assert sorted(receive_bodies(sqs, rq)) == ["one", "two"]


def test_a_second_receiver_for_the_same_queue_is_an_error():
    def first(message):
        pass

    def second(message):
        pass

    register("mail", first)
    with pytest.raises(ConfigurationError, match=r"Queue 'mail' is already registered"):
        register("mail", second)


def test_registering_the_same_function_again_is_harmless():
    def handle(message):
        pass

    register("mail", handle)
    rq = register("mail", handle)
    assert registry.get("mail") is rq


def test_unknown_queue_names_the_queue_and_lists_the_registered_ones():
    with pytest.raises(UnknownQueue) as excinfo:
        send("nope", body="x")
    message = str(excinfo.value)
    assert "'nope'" in message
    assert "echo" in message and "jobs" in message
    with pytest.raises(KeyError):  # UnknownQueue is also a KeyError
        registry.get("nope")


@pytest.mark.parametrize("value", [-1, 43201, "60", 1.5, True])
def test_bad_visibility_timeout_is_refused(value):
    with pytest.raises(ConfigurationError, match="visibility_timeout"):
        register("q", visibility_timeout=value)


def test_message_class_must_be_a_message_subclass():
    with pytest.raises(ConfigurationError, match="message_class"):
        register("q", message_class=dict)


def test_registry_iterates_in_name_order():
    names = [rq.name for rq in registry]
    assert names == sorted(names)
    assert "echo" in registry


@pytest.mark.parametrize("first, second", [
    (("reports", ("daily",)), ("reports__daily", ())),
    (("reports__daily", ()), ("reports", ("daily",))),
    (("orders.fifo", ("eu",)), ("orders__eu.fifo", ())),
])
def test_two_registrations_of_one_sqs_queue_are_refused(first, second):
    register(first[0], suffixes=first[1])
    with pytest.raises(ConfigurationError, match="map to the same SQS queue"):
        register(second[0], suffixes=second[1])
    assert second[0] not in registry
    assert registry.clashes() == []


def test_a_clash_through_a_dead_letter_queue_is_refused_and_undone():
    # The dead-letter queue takes the suffixes of its queue: "dlq" + "eu" is "dlq__eu".
    register("dlq__eu")
    with pytest.raises(ConfigurationError, match="'dlq__eu'"):
        register("jobs2", suffixes=("eu",), dead_letter_queue="dlq")
    assert "jobs2" not in registry and "dlq" not in registry


def test_calling_a_receiver_the_celery_way_explains_what_to_call():
    proxy = receiver("celery_habits")(lambda message: None)
    for name in ("delay", "apply_async"):
        with pytest.raises(AttributeError, match=r"not Celery tasks.*Call the receiver itself to send: <lambda>\(body=...\)"):
            getattr(proxy, name)
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        proxy.nope  # noqa: B018


def test_calling_a_receiver_with_nothing_explains_what_to_pass(sqs):
    proxy = receiver("empty_calls", message_class=JSONMessage)(lambda message: None)
    with pytest.raises(MessageEncodeError, match=r"Nothing to send to queue 'empty_calls': pass the message body"):
        proxy()
    with pytest.raises(MessageEncodeError, match="Nothing to send"):
        send("empty_calls")
    assert sqs.list_queues().get("QueueUrls", []) == []  # nothing sent, no null body


def test_calling_a_receiver_with_keyword_arguments_explains_the_body(sqs):
    proxy = receiver("kwargs_calls", message_class=JSONMessage)(lambda message: None)
    with pytest.raises(MessageEncodeError, match=r"from user_id=, plan=.*send body=\{'user_id': ..., 'plan': ...\}"):
        proxy(user_id=5, plan="pro")
