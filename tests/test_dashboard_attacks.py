"""The SQS dashboard as an attacker and a careless operator use it: every URL and method
without the rights, hostile data from the cache and from messages, and SQS failing
half-way through an action (test client against the local SQS server)."""

from __future__ import annotations

import re

import botocore.exceptions
import pytest
from django.contrib.admin.models import LogEntry
from django.core.cache import cache
from django.test import Client

from django_sqs import queue_urls, register
from django_sqs.client import get_client
from django_sqs.dashboard import actions, browsing, workers
from django_sqs.message import JSONMessage
from django_sqs.provisioning import queue_url
from django_sqs.registry import registry
from tests.dashboard_helpers import AUDIT, ORDERS, ORDERS_DLQ, only_dashboard_queues, poison, staff
from tests.queue_helpers import counts, drain, url_of

pytestmark = pytest.mark.django_db

LIST = "/admin/django_sqs/queue/"
#: What AWS puts in an error that must never reach a page: the account, the role.
AWS_TEXT = "User: arn:aws:sts::210987654321:assumed-role/web-prod/i-0abc is not authorized to perform"
ACTION_POSTS = [("redrive/", {}), ("retry/", {"message": "x"}), ("delete/", {"message": "x"}),
                ("purge/", {}), ("cancel/", {"task": "x"})]


def page(name: str, tail: str = "") -> str:
    return f"{LIST}{name}/{tail}"


def text(response) -> str:
    return response.content.decode()


@pytest.fixture(autouse=True)
def _dashboard(settings):
    settings.ROOT_URLCONF = "tests.urls_admin"
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def queues(server):
    only_dashboard_queues()
    return server


@pytest.fixture
def boss(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("boss", password="pw"))
    return client


def denied(operation: str) -> botocore.exceptions.ClientError:
    return botocore.exceptions.ClientError(
        {"Error": {"Code": "AccessDenied", "Message": AWS_TEXT}}, operation)


class Faulty:
    """The real client, except the operations named in ``fail`` (operation → exception)."""

    def __init__(self, real, **fail):
        self.real, self.fail = real, fail

    def __getattr__(self, name):
        if name in self.fail:
            def refuse(**kwargs):
                raise self.fail[name]
            return refuse
        return getattr(self.real, name)


def assert_no_aws_text(*responses) -> None:
    for response in responses:
        body = text(response)
        assert "210987654321" not in body and "assumed-role" not in body and "not authorized" not in body


# -- who may do what, by every method ------------------------------------------------------


def test_anonymous_non_staff_and_inactive_users_change_nothing(queues, django_user_model):
    poison(['{"a": 1}'])
    users = [None,
             django_user_model.objects.create_user("plain", password="pw"),  # not staff
             django_user_model.objects.create_superuser("gone", password="pw", is_active=False)]
    for user in users:
        client = Client()
        if user is not None:
            client.force_login(user)
        for tail, data in [*ACTION_POSTS, ("messages/", {"page": "1"})]:
            for method in (client.get, client.head, client.post):
                response = method(page(ORDERS_DLQ, tail), data)
                assert response.status_code == 302 and "/admin/login/" in response["Location"], (user, tail)
    assert counts(ORDERS_DLQ) == (1, 0) and LogEntry.objects.count() == 0


def test_view_only_staff_get_403_by_every_method(queues, client, django_user_model):
    poison(['{"a": 1}'])
    client.force_login(staff(django_user_model, "viewer", "view"))
    for tail, data in ACTION_POSTS:
        for method in (client.get, client.head, client.post, client.put, client.delete, client.patch):
            assert method(page(ORDERS_DLQ, tail), data).status_code == 403, (tail, method)
    assert client.post(page(ORDERS_DLQ, "messages/"), {"page": "1"}).status_code == 403
    assert counts(ORDERS_DLQ) == (1, 0) and LogEntry.objects.count() == 0


def test_read_only_refuses_even_a_superuser_by_direct_post(queues, boss, settings):
    settings.SQS_ADMIN_READ_ONLY = True
    ids = poison(['{"a": 1}'])
    for tail, data in [*ACTION_POSTS, ("retry/", {"message": ids[0]}), ("delete/", {"message": ids[0]})]:
        assert boss.post(page(ORDERS_DLQ, tail), data).status_code == 403
        assert boss.get(page(ORDERS_DLQ, tail), data).status_code == 403
    assert counts(ORDERS_DLQ) == (1, 0) and counts(ORDERS) == (0, 0)


def test_queues_outside_the_registry_cannot_be_named(queues, boss):
    get_client().create_queue(QueueName="t__unregistered")
    other_account = "https:%2F%2Fsqs.us-east-1.amazonaws.com%2F999999999999%2Ft__orders_dlq"
    for name in ("t__unregistered", "other__orders_dlq", other_account, "..%2Ft__orders_dlq", "t__orders_dlq%00"):
        for tail in ("", "messages/", "purge/"):
            response = boss.post(page(name, tail))
            assert response.status_code == 404, (name, tail)
    assert boss.get(page(ORDERS_DLQ, "unknown-action/")).status_code == 404


def test_dead_letter_only_actions_are_refused_on_a_live_queue(queues, boss):
    client = get_client()
    new_id = client.send_message(QueueUrl=url_of(AUDIT), MessageBody='{"live": 1}')["MessageId"]
    assert boss.post(page(AUDIT, "redrive/")).status_code == 404
    assert boss.post(page(AUDIT, "retry/"), {"message": new_id}).status_code == 404
    assert boss.post(page(AUDIT, "delete/"), {"message": new_id}).status_code == 403  # no live peeking
    assert boss.post(page(AUDIT, "messages/"), {"page": "1"}).status_code == 403
    assert counts(AUDIT) == (1, 0)


def test_an_admin_quoted_name_never_reaches_another_queue(server, boss):
    """The admin's links quote "_" as "_5F"; a queue whose real name has "_5F" in it must
    still be the queue its URL names, not the one its name unquotes to."""
    only_dashboard_queues()
    register("jobs_1", message_class=JSONMessage)  # what "jobs_5F1" unquotes to
    register("jobs_5F1", message_class=JSONMessage)
    for name in ("jobs_1", "jobs_5F1"):
        queue_url(registry.get(name))
    get_client().send_message(QueueUrl=url_of("t__jobs_1"), MessageBody="{}")  # the one that must survive
    html = text(boss.get(page("t__jobs_5F1")))
    assert "<tr><th>SQS name</th><td>t__jobs_5F1</td></tr>" in html
    boss.post(page("t__jobs_5F1", "purge/"))
    assert counts("t__jobs_1") == (1, 0)
    (entry,) = LogEntry.objects.all()
    assert entry.object_id == "t__jobs_5F1"


# -- hostile data -------------------------------------------------------------------------


def test_hostile_worker_records_in_the_cache_never_break_the_queue_page(queues, boss):
    """The cache is shared with the whole project (and with older workers during a deploy):
    what is found there is shown escaped, or skipped, never a 500."""
    records = {
        "evil": {"id": "evil", "host": "<script>alert(1)</script>", "pid": 1, "threads": 1,
                 "queues": [ORDERS], "started_at": 1.0, "last_polls": {}, "in_hand": 0, "handled": 0},
        "old": {"id": "old", "pid": "7", "queues": [ORDERS]},  # another version's record: no host
        "str-pid": {"id": "str-pid", "host": "<script>alert(1)</script>", "pid": "x", "queues": [ORDERS]},
        "huge-time": {"id": "huge-time", "host": "h", "pid": 4, "queues": [ORDERS], "started_at": 1e300},
        "bad-types": {"id": "bad-types", "host": "h", "pid": 2, "queues": [ORDERS], "started_at": "yesterday",
                      "last_polls": ["not", "a", "dict"], "published_at": "now"},
        "substring": {"id": "substring", "host": "s", "pid": 3, "queues": "t__orders_dlq"},  # a string
        "junk": "not a record",
    }
    cache.set(workers.INDEX_KEY, {key: 10**12 for key in records}, None)
    for key, record in records.items():
        cache.set(workers._key(key), record, None)
    response = boss.get(page(ORDERS))
    assert response.status_code == 200
    html = text(response)
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    worker_pids = re.findall(r'<tr class="sqs-worker"><td>[^<]*</td><td>([^<]*)</td>', html)
    assert "3" not in worker_pids  # t__orders is not "in" the string "t__orders_dlq"


def test_hostile_message_attributes_are_escaped(queues, boss):
    get_client().send_message(
        QueueUrl=url_of(ORDERS_DLQ), MessageBody='{"x": 1}',
        MessageAttributes={"evil": {"DataType": "String", "StringValue": '"><script>alert(3)</script>'}},
    )
    html = text(boss.post(page(ORDERS_DLQ, "messages/"), {"page": "1"}))
    assert "<script>alert(3)" not in html and "&lt;script&gt;alert(3)" in html
    assert counts(ORDERS_DLQ) == (1, 0)


def test_peeked_messages_are_visible_again_when_the_page_fails(queues, boss, monkeypatch):
    poison(['{"a": 1}', '{"a": 2}'])

    def broken(*args, **kwargs):
        raise RuntimeError("rendering failed half-way")

    monkeypatch.setattr(browsing, "describe", broken)
    with pytest.raises(RuntimeError):
        boss.post(page(ORDERS_DLQ, "messages/"), {"page": "1"})
    assert counts(ORDERS_DLQ) == (2, 0)


# -- SQS failing half-way through an action --------------------------------------------------


def test_retry_whose_delete_fails_says_the_message_was_sent_and_audits_it(queues, boss, monkeypatch):
    """Sent, then the delete refused: it is in both queues; the page and the audit trail say
    so (else the operator retries again and the message runs twice, unrecorded)."""
    (message_id,) = poison(['{"r": 1}'])
    monkeypatch.setattr(actions, "get_client", lambda: Faulty(get_client(), delete_message=denied("DeleteMessage")))
    response = boss.post(page(ORDERS_DLQ, "retry/"), {"message": message_id}, follow=True)
    assert [r["Body"] for r in drain(ORDERS)] == ['{"r": 1}']  # sent
    html = text(response)
    assert "sent back to t__orders" in html and "not deleted" in html
    assert_no_aws_text(response)
    (entry,) = LogEntry.objects.filter(object_id=ORDERS_DLQ)
    assert message_id in entry.change_message and "not deleted" in entry.change_message
    assert "210987654321" not in entry.change_message


def test_retry_whose_send_fails_leaves_the_message_visible(queues, boss, monkeypatch):
    (message_id,) = poison(['{"r": 1}'])
    monkeypatch.setattr(actions, "get_client", lambda: Faulty(get_client(), send_message=denied("SendMessage")))
    response = boss.post(page(ORDERS_DLQ, "retry/"), {"message": message_id}, follow=True)
    assert "access was denied" in text(response)
    assert_no_aws_text(response)
    assert counts(ORDERS_DLQ) == (1, 0)  # not hidden for 30 s: visible again at once
    assert counts(ORDERS) == (0, 0) and LogEntry.objects.count() == 0


def test_redrive_never_creates_a_deleted_source_queue(queues, boss):
    poison(['{"a": 1}'])
    get_client().delete_queue(QueueUrl=url_of(ORDERS))
    queue_urls.clear_cache()
    response = boss.post(page(ORDERS_DLQ, "redrive/"), follow=True)
    assert "does not exist" in text(response)
    names = [u.rpartition("/")[2] for u in get_client().list_queues().get("QueueUrls", [])]
    assert ORDERS not in names  # the dashboard never creates a queue
    assert counts(ORDERS_DLQ) == (1, 0) and LogEntry.objects.count() == 0


def test_redrive_interrupted_half_way_tells_and_audits_what_it_moved(queues, boss, monkeypatch):
    from django_sqs import receipts

    poison(['{"a": 1}', '{"a": 2}'])
    real = receipts.get_client
    monkeypatch.setattr(receipts, "get_client",
                        lambda *kind: Faulty(real(*kind), delete_message_batch=denied("DeleteMessageBatch")))
    response = boss.post(page(ORDERS_DLQ, "redrive/"), follow=True)
    assert sorted(r["Body"] for r in drain(ORDERS)) == ['{"a": 1}', '{"a": 2}']  # they were sent
    html = text(response)
    assert "2 sent but not deleted" in html
    assert_no_aws_text(response)
    (entry,) = LogEntry.objects.filter(object_id=ORDERS_DLQ)
    assert "2 sent but not deleted" in entry.change_message


def test_a_fifo_retry_keeps_the_message_group(server, boss):
    only_dashboard_queues()
    register("ship.fifo", message_class=JSONMessage, dead_letter_queue="ship_dlq.fifo")
    for name in ("ship_dlq.fifo", "ship.fifo"):
        queue_url(registry.get(name))
    message_id = get_client().send_message(
        QueueUrl=url_of("t__ship_dlq.fifo"), MessageBody='{"f": 1}', MessageGroupId="customer-7",
        MessageDeduplicationId="d-1",
    )["MessageId"]
    boss.post(page("t__ship_dlq.fifo", "retry/"), {"message": message_id})
    (record,) = drain("t__ship.fifo")
    assert record["Body"] == '{"f": 1}' and record["Attributes"]["MessageGroupId"] == "customer-7"
    assert counts("t__ship_dlq.fifo") == (0, 0)


class MoveTasksExceptFifo:
    """The real client plus SQS's move tasks, refused (UnsupportedOperation) on FIFO queues."""

    def __init__(self, real, running: bool = False):
        self.real, self.running, self.started = real, running, []

    def __getattr__(self, name):
        return getattr(self.real, name)

    def _refuse_fifo(self, arn: str, operation: str) -> None:
        if arn.endswith(".fifo"):
            raise botocore.exceptions.ClientError(
                {"Error": {"Code": "UnsupportedOperation", "Message": "FIFO queues don't support redrive."}}, operation)

    def start_message_move_task(self, **kwargs):
        self._refuse_fifo(kwargs["SourceArn"], "StartMessageMoveTask")
        if self.running:
            raise botocore.exceptions.ClientError(
                {"Error": {"Code": "UnsupportedOperation", "Message": "a task is running"}}, "StartMessageMoveTask")
        self.started.append(kwargs["SourceArn"])
        return {"TaskHandle": "h"}

    def list_message_move_tasks(self, **kwargs):
        self._refuse_fifo(kwargs["SourceArn"], "ListMessageMoveTasks")
        return {"Results": [{"TaskHandle": "h", "Status": "RUNNING"}] if self.running else []}


def test_a_queue_refusing_move_tasks_does_not_turn_them_off_for_the_others(server, boss, monkeypatch):
    only_dashboard_queues()
    register("ship.fifo", message_class=JSONMessage, dead_letter_queue="ship_dlq.fifo")
    for name in ("ship_dlq.fifo", "ship.fifo"):
        queue_url(registry.get(name))
    monkeypatch.setattr(actions, "_no_move_tasks", set())
    fake = MoveTasksExceptFifo(get_client())
    monkeypatch.setattr(actions, "get_client", lambda: fake)
    get_client().send_message(QueueUrl=url_of("t__ship_dlq.fifo"), MessageBody='{"f": 1}', MessageGroupId="g",
                              MessageDeduplicationId="d")
    response = boss.post(page("t__ship_dlq.fifo", "redrive/"), follow=True)
    assert "Redrove 1 message(s)" in text(response)  # django_sqs's redrive, for this queue
    assert counts("t__ship.fifo") == (1, 0)
    poison(['{"a": 1}'])
    response = boss.post(page(ORDERS_DLQ, "redrive/"), follow=True)
    assert "SQS moves the messages" in text(response)  # the standard queue still gets a move task
    assert fake.started and fake.started[-1].endswith(f":{ORDERS_DLQ}")


def test_no_second_redrive_beside_a_running_move_task(queues, boss, monkeypatch):
    monkeypatch.setattr(actions, "_no_move_tasks", set())
    monkeypatch.setattr(actions, "get_client", lambda: MoveTasksExceptFifo(get_client(), running=True))
    poison(['{"a": 1}'])
    response = boss.post(page(ORDERS_DLQ, "redrive/"), follow=True)
    assert "Could not redrive" in text(response)
    assert counts(ORDERS_DLQ) == (1, 0) and counts(ORDERS) == (0, 0) and LogEntry.objects.count() == 0
    assert actions.move_tasks_served()


class BodyInS3(JSONMessage):
    """A project's message class that fetches its body from AWS, and is denied."""

    def decode_body(self, raw):
        raise denied("GetObject")


def test_aws_text_from_a_message_class_never_reaches_the_page(server, boss):
    only_dashboard_queues()
    register("big", message_class=BodyInS3, dead_letter_queue="big_dlq")
    queue_url(registry.get("big_dlq"))
    get_client().send_message(QueueUrl=url_of("t__big_dlq"), MessageBody='{"s3": "key"}')
    response = boss.post(page("t__big_dlq", "messages/"), {"page": "1"})
    assert response.status_code == 200
    assert "Not decodable by BodyInS3: ClientError (AccessDenied)" in text(response)
    assert_no_aws_text(response)


def test_task_ids_in_result_links_are_escaped(server, boss):
    import datetime as dt

    from django_sqs.tasks.envelope import Envelope, TaskMessage

    only_dashboard_queues()
    register("jobs_x", message_class=TaskMessage, dead_letter_queue="jobs_x_dlq")
    queue_url(registry.get("jobs_x_dlq"))
    envelope = Envelope(id='"><script>alert(5)</script>', task="tests.tasks.add", args=[1], kwargs={},
                        backend="default", queue="default", priority=0, enqueued_at=dt.datetime.now(dt.timezone.utc))
    get_client().send_message(QueueUrl=url_of("t__jobs_x_dlq"), MessageBody=TaskMessage(envelope).encode())
    response = boss.post(page("t__jobs_x_dlq", "messages/"), {"page": "1"})
    assert response.status_code == 200
    html = text(response)
    assert "<script>alert(5)" not in html and "&lt;script&gt;alert(5)" in html
    links = re.findall(r'<a href="([^"]*)" class="sqs-task-result">', html)
    assert links and all(link.startswith("/admin/") and "<" not in link for link in links)


def test_a_next_parameter_never_redirects_elsewhere(queues, boss):
    poison(['{"n": 1}'])
    for data in ({"next": "https://evil.example/"}, {"next": "//evil.example/"}):
        response = boss.post(page(ORDERS_DLQ, "redrive/") + "?next=https://evil.example/", data)
        assert response.status_code == 302 and response["Location"] == page(ORDERS_DLQ)


class NamesTheSource:
    """The real client, with what real SQS adds to a message its redrive policy moved:
    DeadLetterQueueSourceArn (moto leaves it out)."""

    def __init__(self, real, moved: dict[str, str]):
        self.real, self.moved = real, moved  # message id → source queue's ARN

    def __getattr__(self, name):
        return getattr(self.real, name)

    def receive_message(self, **kwargs):
        answer = self.real.receive_message(**kwargs)
        for record in answer.get("Messages", []):
            if record["MessageId"] in self.moved:
                record.setdefault("Attributes", {})["DeadLetterQueueSourceArn"] = self.moved[record["MessageId"]]
        return answer


def test_a_shared_dead_letter_queue_sends_each_message_back_where_it_came_from(queues, boss, monkeypatch):
    """Two queues share one dead-letter queue (SQS allows it): a retry must not send an
    orders message to invoices, and what cannot be told apart is left in place."""
    register("invoices", message_class=JSONMessage, dead_letter_queue="orders_dlq")  # registered last
    queue_url(registry.get("invoices"))
    (from_orders,) = poison(['{"o": 1}'])
    orders_arn = get_client().get_queue_attributes(QueueUrl=url_of(ORDERS), AttributeNames=["QueueArn"])
    monkeypatch.setattr(browsing, "get_client",
                        lambda: NamesTheSource(get_client(), {from_orders: orders_arn["Attributes"]["QueueArn"]}))
    html = text(boss.get(page(ORDERS_DLQ)))
    assert f'href="{page(ORDERS)}"' in html and f'href="{page("t__invoices")}"' in html
    boss.post(page(ORDERS_DLQ, "retry/"), {"message": from_orders})
    assert [r["Body"] for r in drain(ORDERS)] == ['{"o": 1}'] and counts("t__invoices") == (0, 0)
    (entry,) = LogEntry.objects.all()
    assert f"sent back to {ORDERS} as" in entry.change_message

    unknown = get_client().send_message(QueueUrl=url_of(ORDERS_DLQ), MessageBody='{"who": "?"}')["MessageId"]
    response = boss.post(page(ORDERS_DLQ, "retry/"), {"message": unknown}, follow=True)
    assert "SQS does not say which one this message came from" in text(response)
    response = boss.post(page(ORDERS_DLQ, "redrive/"), follow=True)  # moto: django_sqs's redrive
    assert "cannot tell which queue each message came from" in text(response)
    assert counts(ORDERS_DLQ) == (1, 0) and counts("t__invoices") == (0, 0) and LogEntry.objects.count() == 1


def test_a_shared_dead_letter_queue_is_redriven_by_sqs_to_each_source(queues, boss, monkeypatch):
    register("invoices", message_class=JSONMessage, dead_letter_queue="orders_dlq")
    queue_url(registry.get("invoices"))
    monkeypatch.setattr(actions, "_no_move_tasks", set())
    fake = MoveTasksExceptFifo(get_client())
    calls = []
    fake.start_message_move_task = lambda **kwargs: calls.append(kwargs) or {"TaskHandle": "h"}
    monkeypatch.setattr(actions, "get_client", lambda: fake)
    boss.post(page(ORDERS_DLQ, "redrive/"))
    (call,) = calls
    assert call["SourceArn"].endswith(f":{ORDERS_DLQ}") and "DestinationArn" not in call


def test_a_dead_letter_from_an_unregistered_queue_is_not_retried_into_another(queues, boss, monkeypatch):
    message_id = get_client().send_message(QueueUrl=url_of(ORDERS_DLQ), MessageBody='{"e": 1}')["MessageId"]
    elsewhere = "arn:aws:sqs:us-east-1:123456789012:t__renamed_long_ago"
    monkeypatch.setattr(browsing, "get_client", lambda: NamesTheSource(get_client(), {message_id: elsewhere}))
    response = boss.post(page(ORDERS_DLQ, "retry/"), {"message": message_id}, follow=True)
    assert "came from t__renamed_long_ago, which is not a registered queue" in text(response)
    assert counts(ORDERS_DLQ) == (1, 0) and counts(ORDERS) == (0, 0) and LogEntry.objects.count() == 0


def test_read_only_does_not_silence_the_live_peek_warning(queues, boss, settings):
    """Read-only hides the actions, not the peeks: a peek at a live queue still adds one to
    the receive count of each message, so the warning about it stays."""
    from django_sqs.dashboard.checks import check_dashboard_settings

    settings.SQS_ADMIN_READ_ONLY = True
    settings.SQS_ADMIN_PEEK_LIVE_QUEUES = True
    get_client().send_message(QueueUrl=url_of(AUDIT), MessageBody='{"live": 1}')
    html = text(boss.post(page(AUDIT, "messages/"), {"page": "1"}))
    assert "This is a live queue" in html
    (record,) = drain(AUDIT)
    assert record["Attributes"]["ApproximateReceiveCount"] == "2"  # the peek counted
    assert [p.id for p in check_dashboard_settings()] == ["django_sqs.W060"]
