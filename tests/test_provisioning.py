"""sqs_create_queues and least privilege, against a real local SQS server (counted requests)."""

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from django_sqs import register, send, send_many, send_to_dead_letter_queue
from django_sqs.client import get_client
from django_sqs.exceptions import QueueDoesNotExist
from django_sqs.message import JSONMessage
from django_sqs.registry import registry
from tests.queue_helpers import attributes, counts, drain, run, url_of

LOOKUP_OR_CREATE = {"GetQueueUrl", "CreateQueue", "ListQueues"}


@pytest.fixture
def orders():
    return register("orders", suffixes=("eu",), dead_letter_queue="orders_dlq", max_receive_count=3)


def lines(output):
    return output.strip().splitlines()


# -- dead-letter queues: names and redrive policies ----------------------------------------------


def test_dead_letter_queue_is_prefixed_and_follows_the_suffixes(orders):
    dlq = registry.get("orders_dlq")
    assert dlq.full_name() == "t__orders_dlq"
    assert dlq.full_name("eu") == "t__orders_dlq__eu"
    assert dlq.dead_letter_queue_of == "orders"
    assert orders.delete_on_error is False


def test_create_queues_creates_dead_letter_queues_first_with_their_suffixes(server, orders):
    output = run("sqs_create_queues", "orders")
    assert lines(output) == [
        "t__orders_dlq: created",
        "t__orders_dlq__eu: created",
        "t__orders: created",
        "t__orders__eu: created",
        "4 queues: 4 created, 0 updated, 0 unchanged.",
    ]
    for suffix in ("", "__eu"):
        policy = json.loads(attributes(f"t__orders{suffix}")["RedrivePolicy"])
        assert policy == {
            "deadLetterTargetArn": attributes(f"t__orders_dlq{suffix}")["QueueArn"],
            "maxReceiveCount": 3,
        }
        assert "RedrivePolicy" not in attributes(f"t__orders_dlq{suffix}")


def test_sending_creates_the_dead_letter_queue_first(server, orders):
    send("orders", body="x")
    assert server.counts()["CreateQueue"] == 2
    policy = json.loads(attributes("t__orders")["RedrivePolicy"])
    assert policy["deadLetterTargetArn"].endswith(":t__orders_dlq")


def test_dead_letter_queue_registered_with_its_own_receiver_keeps_the_suffixes(server, orders):
    register("orders_dlq", lambda message: None)
    output = run("sqs_create_queues", "orders")
    assert "t__orders_dlq__eu: created" in output
    assert attributes("t__orders__eu")["RedrivePolicy"]


# -- sqs_create_queues: idempotent, applies changes ----------------------------------------------


def test_second_run_changes_nothing(server, orders):
    run("sqs_create_queues", "orders")
    server.reset_counts()
    output = run("sqs_create_queues", "orders")
    assert lines(output)[:-1] == [
        "t__orders_dlq: unchanged",
        "t__orders_dlq__eu: unchanged",
        "t__orders: unchanged",
        "t__orders__eu: unchanged",
    ]
    assert lines(output)[-1] == "4 queues: 0 created, 0 updated, 4 unchanged."
    assert set(server.counts()) <= {"GetQueueUrl", "GetQueueAttributes"}  # no Create/SetQueueAttributes


def test_changed_visibility_timeout_is_applied(server, orders):
    run("sqs_create_queues", "orders")
    orders.visibility_timeout = 30
    output = run("sqs_create_queues", "orders")
    assert "t__orders: updated (VisibilityTimeout 60 → 30)" in lines(output)
    assert "t__orders__eu: updated (VisibilityTimeout 60 → 30)" in lines(output)
    assert "t__orders_dlq: unchanged" in lines(output)
    assert attributes("t__orders")["VisibilityTimeout"] == "30"
    assert attributes("t__orders__eu")["VisibilityTimeout"] == "30"
    assert "unchanged" in run("sqs_create_queues", "orders").splitlines()[2]


def test_changed_max_receive_count_is_applied(server, orders):
    run("sqs_create_queues", "orders")
    orders.max_receive_count = 7
    output = run("sqs_create_queues", "orders")
    assert "t__orders: updated (RedrivePolicy t__orders_dlq after 3 receives → t__orders_dlq after 7 receives)" in output
    assert json.loads(attributes("t__orders")["RedrivePolicy"])["maxReceiveCount"] == 7


def test_dead_letter_queue_added_later(server):
    register("mail")
    run("sqs_create_queues", "mail")
    registry.unregister("mail")
    register("mail", dead_letter_queue="mail_dlq")
    output = run("sqs_create_queues", "mail")
    assert lines(output)[:2] == [
        "t__mail_dlq: created",
        "t__mail: updated (RedrivePolicy none → t__mail_dlq after 5 receives)",
    ]
    assert json.loads(attributes("t__mail")["RedrivePolicy"])["maxReceiveCount"] == 5


def test_dead_letter_queue_no_longer_declared_is_unlinked(server, orders):
    run("sqs_create_queues", "orders")
    registry.unregister("orders")
    register("orders", suffixes=("eu",))
    output = run("sqs_create_queues", "orders")
    assert "t__orders: updated (RedrivePolicy t__orders_dlq after 3 receives → none)" in output
    assert "RedrivePolicy" not in attributes("t__orders")


def test_attributes_django_sqs_does_not_manage_are_left_alone(server):
    register("mail")
    run("sqs_create_queues", "mail")
    get_client().set_queue_attributes(QueueUrl=url_of("t__mail"), Attributes={"MessageRetentionPeriod": "1209600"})
    assert "t__mail: unchanged" in run("sqs_create_queues", "mail")
    assert attributes("t__mail")["MessageRetentionPeriod"] == "1209600"


def test_fifo_queue_attributes(server):
    register("orders.fifo", dead_letter_queue="orders_dlq.fifo")
    assert lines(run("sqs_create_queues", "orders.fifo"))[:2] == ["t__orders_dlq.fifo: created", "t__orders.fifo: created"]
    for name in ("t__orders.fifo", "t__orders_dlq.fifo"):
        assert attributes(name)["FifoQueue"] == "true"
        assert attributes(name)["ContentBasedDeduplication"] == "true"
    get_client().set_queue_attributes(QueueUrl=url_of("t__orders.fifo"), Attributes={"ContentBasedDeduplication": "false"})
    assert "t__orders.fifo: updated (ContentBasedDeduplication false → true)" in run("sqs_create_queues", "orders.fifo")
    assert attributes("t__orders.fifo")["ContentBasedDeduplication"] == "true"


def test_no_names_means_every_registered_queue(server, orders):
    output = run("sqs_create_queues")
    names = [line.split(":")[0] for line in lines(output)[:-1]]
    expected = {full for rq in registry for _, full in rq.full_names()}
    assert set(names) == expected
    assert len(names) == len(expected)
    assert names.index("t__orders_dlq") < names.index("t__orders")


def test_patterns_and_unknown_names(server, orders):
    assert "t__orders: created" in run("sqs_create_queues", "ord*")
    with pytest.raises(CommandError, match="No registered queue matches 'nope'"):
        call_command("sqs_create_queues", "nope")


def test_creates_queues_whatever_sqs_create_queues_says(server, settings, orders):
    settings.SQS_CREATE_QUEUES = False
    with pytest.raises(QueueDoesNotExist):
        send("orders", body="x")
    assert "4 created" in run("sqs_create_queues", "orders")
    send("orders", body="x")
    assert counts("t__orders") == (1, 0)


def test_creates_the_queues_listed_in_sqs_queue_urls(server, settings):
    # The first deploy: the URLs are configured already, the queues not created yet.
    register("mail", dead_letter_queue="mail_dlq")
    settings.SQS_QUEUE_URLS = {name: f"{server.url}/123456789012/{name}" for name in ("t__mail", "t__mail_dlq")}
    settings.SQS_CREATE_QUEUES = False
    output = run("sqs_create_queues", "mail")
    assert lines(output)[:2] == ["t__mail_dlq: created", "t__mail: created"]
    assert "unchanged" in run("sqs_create_queues", "mail").splitlines()[1]
    server.reset_counts()
    send("mail", body="x")
    assert server.counts() == {"SendMessage": 1}


def test_sqs_errors_are_command_errors(server, settings, orders):
    settings.SQS_ENDPOINT_URL = "http://127.0.0.1:9"
    with pytest.raises(CommandError, match="t__orders_dlq"):
        call_command("sqs_create_queues", "orders")


# -- least privilege: no lookups, no creation ----------------------------------------------------


def give_up(message):
    if message.get_body().get("give_up"):
        send_to_dead_letter_queue(message, reason="hopeless")


def work(message):
    pass


@pytest.fixture
def least_privilege(server, settings):
    """Queues created at deploy time; then every process runs with only their URLs."""
    register("lp_jobs", give_up, message_class=JSONMessage, dead_letter_queue="lp_jobs_dlq")
    register("lp_mail", work)
    register("lp_orders.fifo", work)
    run("sqs_create_queues", "lp_*")
    names = ["t__lp_jobs", "t__lp_jobs_dlq", "t__lp_mail", "t__lp_orders.fifo"]
    settings.SQS_QUEUE_URLS = {name: url_of(name) for name in names}
    settings.SQS_CREATE_QUEUES = False
    server.reset_counts()
    return server


def test_sending_makes_no_lookup_or_create_request(least_privilege):
    send("lp_jobs", body={"n": 1})
    send_many("lp_mail", ["a", "b", "c"])
    send("lp_orders.fifo", body="x", group_id="g")
    assert least_privilege.counts() == {"SendMessage": 2, "SendMessageBatch": 1}


def test_worker_and_redrive_make_no_lookup_or_create_request(least_privilege):
    send("lp_jobs", body={"give_up": True})
    send("lp_jobs", body={"n": 2})
    send("lp_mail", body="m")
    send("lp_orders.fifo", body="x", group_id="g")
    # Two queues and more: the supervisor forks one child per queue; each resolves its own URL.
    call_command("runreceiver", "lp_*", "--burst")
    call_command("sqs_redrive", "lp_jobs", stdout=_Null())
    used = set(least_privilege.counts())  # before the helpers below look queues up
    assert not used & LOOKUP_OR_CREATE
    assert used <= {
        "SendMessage", "SendMessageBatch", "ReceiveMessage", "DeleteMessage", "DeleteMessageBatch",
        "ChangeMessageVisibility", "ChangeMessageVisibilityBatch", "GetQueueAttributes",
    }
    assert counts("t__lp_jobs_dlq") == (0, 0)
    assert counts("t__lp_jobs") == (1, 0)
    assert drain("t__lp_jobs")[0]["Body"] == '{"give_up":true}'


def test_one_queue_worker_makes_no_lookup_or_create_request(least_privilege):
    send("lp_mail", body="m")
    call_command("runreceiver", "lp_mail", "--burst")
    assert least_privilege.counts() == {"SendMessage": 1, "ReceiveMessage": 2, "DeleteMessageBatch": 1}


class _Null:
    def write(self, text):
        pass

    def flush(self):
        pass
