"""Queue URL resolution, counted at a real local SQS server: SQS_QUEUE_URLS costs nothing,
GetQueueUrl once per process, CreateQueue only when allowed, never ListQueues."""

import pytest

from django_sqs import client as client_module
from django_sqs import receiver, register, send
from django_sqs.client import get_client
from django_sqs.exceptions import QueueDoesNotExist
from django_sqs.provisioning import queue_url


def make_queue(server, name):
    """Create a queue behind django_sqs's back; request counts start at zero again."""
    url = get_client().create_queue(QueueName=name)["QueueUrl"]
    server.reset_counts()
    return url


def visibility_timeout(url):
    attrs = get_client().get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])
    return int(attrs["Attributes"]["VisibilityTimeout"])


def test_configured_url_needs_no_lookup(server, settings):
    url = make_queue(server, "t__mail")
    settings.SQS_QUEUE_URLS = {"t__mail": url}
    settings.SQS_CREATE_QUEUES = False
    register("mail")
    for _ in range(3):
        send("mail", body="x")
    assert server.counts() == {"SendMessage": 3}


def test_configured_url_is_used_as_is_even_for_a_missing_queue(server, settings):
    # Listed queues are never looked up nor created: the error comes from SendMessage itself.
    from django_sqs.exceptions import SQSRequestError

    settings.SQS_QUEUE_URLS = {"t__mail": server.url + "/123456789012/t__mail"}
    register("mail")
    with pytest.raises(SQSRequestError):
        send("mail", body="x")
    assert set(server.counts()) == {"SendMessage"}


def test_configured_url_of_a_suffixed_queue(server, settings):
    url = make_queue(server, "t__mail__eu")
    settings.SQS_QUEUE_URLS = {"t__mail__eu": url}
    rq = register("mail", suffixes=("eu",))
    send("mail", body="x", suffix="eu")
    assert queue_url(rq, "eu") == url
    assert server.counts() == {"SendMessage": 1}


def test_existing_queue_is_looked_up_once_per_process(server):
    url = make_queue(server, "t__mail")
    rq = register("mail")
    for _ in range(3):
        send("mail", body="x")
    assert queue_url(rq) == url
    assert server.counts() == {"GetQueueUrl": 1, "SendMessage": 3}


def test_lookup_happens_again_in_a_forked_child(server, monkeypatch):
    make_queue(server, "t__mail")
    register("mail")
    send("mail", body="parent")
    pid = client_module.os.getpid()
    monkeypatch.setattr(client_module.os, "getpid", lambda: pid + 1)
    send("mail", body="child")
    send("mail", body="child")
    assert server.counts() == {"GetQueueUrl": 2, "SendMessage": 3}


def test_url_cache_is_dropped_when_a_setting_changes(server, settings):
    make_queue(server, "t__mail")
    register("mail")
    send("mail", body="x")
    settings.SQS_POLL_PERIOD = 5
    send("mail", body="x")
    assert server.counts() == {"GetQueueUrl": 2, "SendMessage": 2}


def test_prefix_change_resolves_the_new_queue(server, settings):
    make_queue(server, "t__mail")
    rq = register("mail")
    assert queue_url(rq).endswith("/t__mail")
    settings.SQS_QUEUE_PREFIX = "other"
    assert queue_url(rq).endswith("/other__mail")


def test_missing_queue_is_created_with_the_receiver_visibility_timeout(server):
    proxy = receiver("thumbnails", visibility_timeout=123)(lambda m: None)
    proxy(body="a")
    proxy(body="b")
    assert server.counts() == {"GetQueueUrl": 1, "CreateQueue": 1, "SendMessage": 2}
    url = queue_url(proxy.registered_queue)
    assert url.endswith("/t__thumbnails")
    assert visibility_timeout(url) == 123


def test_created_queue_gets_the_default_visibility_timeout(server, settings):
    settings.SQS_DEFAULT_VISIBILITY_TIMEOUT = 77
    register("mail")
    send("mail", body="x")
    assert visibility_timeout(get_client().get_queue_url(QueueName="t__mail")["QueueUrl"]) == 77


def test_missing_queue_with_creation_off_is_an_error_naming_the_queue(server, settings):
    settings.SQS_CREATE_QUEUES = False
    register("mail", suffixes=("eu",))
    with pytest.raises(QueueDoesNotExist) as excinfo:
        send("mail", body="x", suffix="eu")
    message = str(excinfo.value)
    assert "'t__mail__eu'" in message
    assert "SQS_CREATE_QUEUES" in message
    assert server.counts() == {"GetQueueUrl": 1}
    assert get_client().list_queues().get("QueueUrls", []) == []


def test_never_list_queues(server, settings):
    make_queue(server, "t__mail")
    register("mail")
    register("fresh")
    send("mail", body="x")
    send("fresh", body="x")
    settings.SQS_CREATE_QUEUES = False
    register("absent")
    with pytest.raises(QueueDoesNotExist):
        send("absent", body="x")
    assert "ListQueues" not in server.counts()


def test_no_request_at_start_up_or_registration(server):
    register("mail")
    receiver("other")(lambda m: None)
    assert server.counts() == {}
