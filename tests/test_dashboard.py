"""The SQS dashboard in the admin, through Django's test client against the local SQS server:
each page, each action, permissions, CSRF, the audit trail, errors and hostile bodies."""

from __future__ import annotations

import base64
import datetime as dt
import os
import re

import pytest
from django.contrib import admin
from django.contrib.admin.models import LogEntry
from django.core.cache import cache
from django.db import OperationalError
from django.test import Client
from django.utils import dateformat, timezone

from django_sqs import register, signals
from django_sqs.client import get_client
from django_sqs.dashboard import actions, inventory, workers
from django_sqs.dashboard.admin import register as register_dashboard
from django_sqs.dashboard.models import Queue
from django_sqs.exceptions import SQSRequestError
from django_sqs.message import Base64Message, ModelInstanceMessage
from django_sqs.periodic import periodic
from django_sqs.provisioning import queue_url
from django_sqs.registry import registry
from django_sqs.schedules.models import ScheduleTick
from tests.dashboard_helpers import (
    AUDIT,
    ORDERS,
    ORDERS_DLQ,
    handle_order,
    in_dlq,
    only_dashboard_queues,
    poison,
    staff,
)
from tests.models import Photo
from tests.queue_helpers import counts, drain, url_of

pytestmark = pytest.mark.django_db

LIST = "/admin/django_sqs/queue/"


def page(name: str, tail: str = "") -> str:
    return f"{LIST}{name}/{tail}"


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


def text(response) -> str:
    return response.content.decode()


def row_cells(html: str, full_name: str) -> list[str]:
    """The cells of a queue's row in the list, tags stripped."""
    match = re.search(rf'<tr class="(sqs-level-\d)" data-queue="{re.escape(full_name)}">(.*?)</tr>', html, re.S)
    assert match, f"no row for {full_name}"
    cells = re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", match.group(2), re.S)
    return [match.group(1)] + [re.sub(r"<[^>]+>|&nbsp;|\s+", " ", c).strip() for c in cells]


def assert_no_aws_text(response, *more: str) -> None:
    """None of the texts AWS (or botocore) puts in its errors is on the page."""
    body = text(response)
    for secret in ("botocore", "Traceback", "Could not connect to the endpoint URL", "not authorized to perform",
                   "Only one PurgeQueue operation", "The specified queue does not exist", *more):
        assert secret not in body


# -- where it lives ---------------------------------------------------------------------


def test_the_admin_index_lists_sqs_queues(queues, boss):
    html = text(boss.get("/admin/"))
    assert f'<a href="{LIST}"' in html and "SQS queues" in html


def test_sqs_admin_false_turns_it_off(queues, boss, settings):
    settings.SQS_ADMIN = False
    site = admin.AdminSite(name="fresh")
    register_dashboard(site)
    assert not site.is_registered(Queue)
    assert "SQS queues" not in text(boss.get("/admin/"))
    assert boss.get(LIST).status_code == 403


def test_anonymous_users_go_to_the_admin_login(queues, client):
    response = client.get(LIST)
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")


# -- the queue list ---------------------------------------------------------------------


def test_queue_list_shows_counts_nesting_redrive_fifo_and_readers(queues, boss):
    poison(['{"n": 1}', '{"n": 2}'])
    get_client().send_message(QueueUrl=url_of(AUDIT), MessageBody="{}")
    get_client().create_queue(QueueName="t__leftover")
    response = boss.get(LIST)
    assert response.status_code == 200
    html = text(response)
    level, name, visible, in_flight, delayed, redrive, fifo, reader = row_cells(html, ORDERS)
    assert (level, visible, in_flight, delayed) == ("sqs-level-0", "0", "0", "0")
    assert redrive == f"{ORDERS_DLQ} after 2 receives" and fifo == "standard"
    assert reader == "receiver tests.dashboard_helpers.handle_order"
    level, name, visible, *_, reader = row_cells(html, ORDERS_DLQ)
    assert (level, visible) == ("sqs-level-1", "2") and "DLQ" in name
    assert reader == "dead-letter queue (no receiver)"
    assert row_cells(html, AUDIT)[2] == "1"
    unregistered = html[html.index('id="sqs-unregistered"'):]
    assert "t__leftover" in unregistered and ORDERS not in unregistered
    # The oldest-message column is absent unless SQS_ADMIN_OLDEST_MESSAGE_AGE is on.
    assert "Oldest (s)" not in html


def test_queue_list_answers_from_the_cache_for_a_few_seconds(queues, boss):
    boss.get(LIST)
    queues.reset_counts()
    boss.get(LIST)
    assert queues.counts().get("GetQueueAttributes", 0) == 0


def test_queue_list_shows_queues_not_created_yet(server, boss):
    only_dashboard_queues()
    register("later")
    assert "(not created yet)" in row_cells(text(boss.get(LIST)), "t__later")[2 - 1]


def test_oldest_message_age_from_cloudwatch_when_enabled(queues, boss, settings):
    settings.SQS_ADMIN_OLDEST_MESSAGE_AGE = True
    import boto3

    cloudwatch = boto3.client("cloudwatch", region_name="us-east-1", endpoint_url=settings.SQS_ENDPOINT_URL)
    cloudwatch.put_metric_data(Namespace="AWS/SQS", MetricData=[{
        "MetricName": "ApproximateAgeOfOldestMessage", "Dimensions": [{"Name": "QueueName", "Value": ORDERS_DLQ}],
        "Value": 4242, "Unit": "Seconds",
    }])
    html = text(boss.get(LIST))
    assert "Oldest (s)" in html
    assert "4242" in row_cells(html, ORDERS_DLQ)


# -- the queue page ---------------------------------------------------------------------


def test_queue_page_shows_attributes_and_the_dead_letter_link(queues, boss):
    html = text(boss.get(page(ORDERS_DLQ)))
    assert "Dead-letter queue of" in html and f'href="{page(ORDERS)}"' in html
    assert "QueueArn" in html and "ApproximateNumberOfMessages" in html
    assert 'id="sqs-redrive"' in html and 'id="sqs-purge"' in html and 'id="sqs-peek"' in html
    assert "No worker has published itself" in html


def test_the_queue_page_shows_its_schedules_and_their_last_claimed_tick(queues, boss, settings):
    # One from the setting, one from @periodic under the receiver (found by the function's path).
    settings.SQS_SCHEDULES = {"orders-nightly": {"queue": "orders", "cron": "0 3 * * *", "timezone": "Europe/Paris"}}
    periodic(every=dt.timedelta(minutes=5), name="orders-refresh")(handle_order)
    tick = dt.datetime(2026, 1, 2, 2, 0, tzinfo=dt.timezone.utc)
    ScheduleTick.objects.create(schedule="orders-nightly", tick=tick, claimed_by="h:1", claimed_at=tick, sent_at=tick)
    html = text(boss.get(page(ORDERS)))
    rows = [re.sub(r"<[^>]+>", "|", r) for r in re.findall(r'<tr class="sqs-schedule">(.*?)</tr>', html, re.S)]
    assert len(rows) == 2
    assert "orders-nightly" in rows[0] and "cron 0 3 * * *" in rows[0] and "Europe/Paris" in rows[0]
    shown = dateformat.format(timezone.localtime(tick), "Y-m-d H:i:s T")  # the project's time zone
    assert f"|{shown}|" in rows[0] and "|yes|" in rows[0]
    assert "orders-refresh" in rows[1] and "every 300s" in rows[1] and "|–|" in rows[1]
    assert "Mode B" in html
    html = text(boss.get(page(AUDIT)))
    assert 'id="sqs-schedules"' in html and "No schedule sends to this queue." in html
    assert "orders-" not in html
    settings.SQS_SCHEDULE_MODE = "eventbridge"  # mode A: no claims to show
    html = text(boss.get(page(ORDERS)))
    assert "Mode A" in html and "orders-nightly" in html and "Last claimed tick" not in html


def test_a_task_schedule_shows_on_its_task_queue(queues, boss, settings):
    from django_sqs.tasks import compat
    from django_sqs.tasks.queues import registered_queue

    settings.SQS_SCHEDULES = {"noop-hourly": {"task": "tests.tasks.noop_task", "cron": "0 * * * *"}}
    rq = registered_queue(compat.task_backends["default"], "default")
    html = text(boss.get(page(rq.full_name())))
    assert "noop-hourly" in html and "cron 0 * * * *" in html
    assert "noop-hourly" not in text(boss.get(page(ORDERS)))


def test_the_schedules_need_no_database_to_show(queues, boss, settings, monkeypatch):
    settings.SQS_SCHEDULES = {"orders-nightly": {"queue": "orders", "cron": "0 3 * * *"}}

    def unavailable(*args, **kwargs):
        raise OperationalError("the database is down")

    monkeypatch.setattr(ScheduleTick.objects, "filter", unavailable)
    response = boss.get(page(ORDERS))
    assert response.status_code == 200
    html = text(response)
    assert "orders-nightly" in html and "could not be read from the database" in html
    assert "the database is down" not in html


def test_an_unknown_queue_name_is_404(queues, boss):
    assert boss.get(page("t__nope")).status_code == 404


def test_workers_publish_themselves_through_the_signals(queues, boss):
    workers.connect()
    pid = os.getpid()
    signals.emit(signals.worker_started, object, queues=[ORDERS], pid=pid, threads=3)
    signals.emit(signals.queue_polled, object, queue=ORDERS, received=1, wait=20, ok=True)
    signals.emit(signals.message_received, object, queue=ORDERS, message_id="m", receive_count=1, sent_at=None)
    workers._publish(workers.time.time())  # the next heartbeat
    html = text(boss.get(page(ORDERS)))
    worker = re.search(r'<tr class="sqs-worker">(.*?)</tr>', html, re.S).group(1)
    cells = re.findall(r"<td>(.*?)</td>", worker, re.S)
    assert cells[1:4] == [str(pid), "3", "1"]
    assert cells[5] != "–"  # the last poll of this queue, as a time
    assert 'class="sqs-worker"' not in text(boss.get(page(AUDIT)))  # another queue: not its worker
    signals.emit(signals.worker_stopping, object, queues=[ORDERS], pid=pid, reason="signal")
    assert 'class="sqs-worker"' not in text(boss.get(page(ORDERS)))


def test_workers_publish_what_they_handled_and_the_recent_rate(queues, monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(workers.time, "time", lambda: clock[0])
    workers.connect()
    signals.emit(signals.worker_started, object, queues=[ORDERS], pid=os.getpid(), threads=1)
    monkeypatch.setattr(workers, "HEARTBEAT_SECONDS", 10**6)  # no record until the explicit heartbeat
    signals.emit(signals.message_received, object, queue=ORDERS, message_id="a", receive_count=1, sent_at=None)
    signals.emit(signals.message_handled, object, queue=ORDERS, message_id="a", outcome="ok", duration=0.1,
                 receive_count=1)
    clock[0] = 1030.0
    workers._publish(workers.time.time())  # the heartbeat, 30 s after the start
    (record,) = workers.published(ORDERS)
    assert record["handled"] == 1 and record["in_hand"] == 0 and record["per_minute"] == 2.0  # 1 in 30 s
    signals.emit(signals.worker_stopping, object, queues=[ORDERS], pid=os.getpid(), reason="empty")


def test_a_real_worker_is_listed_while_it_handles_a_message(queues, monkeypatch):
    """runreceiver in-process: the receiver looks at what the worker published meanwhile."""
    from django.core.management import call_command

    monkeypatch.setattr(workers, "HEARTBEAT_SECONDS", 0)  # every event publishes
    seen = []
    registry.unregister("audit")
    register("audit", lambda message: seen.extend(workers.published(AUDIT)))
    workers.connect()
    get_client().send_message(QueueUrl=url_of(AUDIT), MessageBody="x")
    call_command("runreceiver", "audit", "--burst", "--threads", "2")
    assert len(seen) == 1
    assert seen[0]["threads"] == 2 and seen[0]["in_hand"] == 1 and seen[0]["queues"] == [AUDIT]
    assert seen[0]["handled"] == 0
    assert workers.published(AUDIT) == []  # gone when it stopped


# -- peeking ----------------------------------------------------------------------------


def test_peek_shows_dead_letters_and_makes_them_visible_again(queues, boss):
    ids = poison(['{"order": 1}', '{"order": 2}', '{"order": 3}'])
    html = text(boss.get(page(ORDERS_DLQ, "messages/")))
    assert "each one's receive count goes up by one" in html and "sqs-message" not in html
    response = boss.post(page(ORDERS_DLQ, "messages/"), {"page": "1"})
    assert response.status_code == 200
    html = text(response)
    assert set(re.findall(r'data-message-id="([^"]+)"', html)) == set(ids)
    assert "&quot;order&quot;: 2" in html  # decoded (JSON), escaped
    assert counts(ORDERS_DLQ) == (3, 0)  # visible again at once
    before = re.findall(r'sqs-receive-count">(\d+)', html)
    html = text(boss.post(page(ORDERS_DLQ, "messages/"), {"page": "1"}))
    after = re.findall(r'sqs-receive-count">(\d+)', html)
    assert sorted(int(n) + 1 for n in before) == sorted(int(n) for n in after)  # the bump is real
    assert "First received" in html and "Size" in html


def test_peek_pages_through_a_deep_queue(queues, boss):
    ids = {in_dlq(f'{{"n": {i}}}') for i in range(15)}
    first = text(boss.post(page(ORDERS_DLQ, "messages/"), {"page": "1"}))
    second = text(boss.post(page(ORDERS_DLQ, "messages/"), {"page": "2"}))
    one, two = (set(re.findall(r'data-message-id="([^"]+)"', h)) for h in (first, second))
    assert len(one) == 10 and 'id="sqs-next"' in first
    assert len(two) == 5 and one | two == ids
    assert counts(ORDERS_DLQ) == (15, 0)


def test_live_queues_are_not_peeked_unless_allowed(queues, boss, settings):
    get_client().send_message(QueueUrl=url_of(AUDIT), MessageBody='{"live": true}')
    assert boss.post(page(AUDIT, "messages/"), {"page": "1"}).status_code == 403
    assert 'id="sqs-peek"' not in text(boss.get(page(AUDIT)))
    assert counts(AUDIT) == (1, 0)
    settings.SQS_ADMIN_PEEK_LIVE_QUEUES = True
    html = text(boss.post(page(AUDIT, "messages/"), {"page": "1"}))
    assert "This is a live queue" in html and "&quot;live&quot;: true" in html
    assert counts(AUDIT) == (1, 0)


def test_fifo_queues_warn_that_a_peek_blocks_the_group(server, boss):
    only_dashboard_queues()
    register("shipping.fifo", message_class=Base64Message, dead_letter_queue="shipping_dlq.fifo")
    queue_url(registry.get("shipping_dlq.fifo"))
    html = text(boss.get(page("t__shipping_dlq.fifo", "messages/")))
    assert "FIFO queue:" in html and "message groups are blocked" in html


def test_hostile_bodies_are_escaped_cut_and_never_a_500(server, boss, settings):
    only_dashboard_queues()
    register("legacy", message_class=Base64Message, dead_letter_queue="legacy_dlq")
    register("pics", message_class=ModelInstanceMessage, dead_letter_queue="pics_dlq")
    client = get_client()
    for name in ("legacy_dlq", "pics_dlq"):
        queue_url(registry.get(name))
    in_dlq('<script>alert("x")</script><img src=x onerror=alert(1)>')  # not JSON: shown as sent
    in_dlq('{"html": "<script>alert(2)</script>"}')  # JSON: shown decoded
    in_dlq("A" * (1024 * 1024 - 100))  # within SQS's 1 MiB
    bad_utf8 = base64.b64encode(b"\xff\xfe not utf-8 \xc3\x28").decode()
    client.send_message(QueueUrl=url_of("t__legacy_dlq"), MessageBody=bad_utf8)
    photo = Photo.objects.create()
    client.send_message(QueueUrl=url_of("t__pics_dlq"), MessageBody=ModelInstanceMessage(instance=photo).encode())
    photo.delete()

    response = boss.post(page(ORDERS_DLQ, "messages/"), {"page": "1"})
    assert response.status_code == 200
    html = text(response)
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)" in html and "&lt;script&gt;alert(2)" in html
    assert len(response.content) < 100_000 and "Cut at 2000 characters" in html
    assert f"({1024 * 1024 - 100} bytes)" in html  # the size, told

    html = text(boss.post(page("t__legacy_dlq", "messages/"), {"page": "1"}))
    assert "Not decodable by Base64Message" in html and "not base64 of UTF-8" in html

    response = boss.post(page("t__pics_dlq", "messages/"), {"page": "1"})
    assert response.status_code == 200
    assert "not loaded:" in text(response) and "does not exist" in text(response)


def test_task_messages_link_to_their_result(server, boss):
    import datetime as dt

    from django_sqs.tasks.envelope import Envelope, TaskMessage

    only_dashboard_queues()
    register("jobs_t", message_class=TaskMessage, dead_letter_queue="jobs_t_dlq")
    queue_url(registry.get("jobs_t_dlq"))
    envelope = Envelope(id="r-123", task="tests.tasks.add", args=[1], kwargs={}, backend="default",
                        queue="default", priority=0, enqueued_at=dt.datetime.now(dt.timezone.utc))
    get_client().send_message(QueueUrl=url_of("t__jobs_t_dlq"), MessageBody=TaskMessage(envelope).encode())
    html = text(boss.post(page("t__jobs_t_dlq", "messages/"), {"page": "1"}))
    assert 'href="/admin/django_sqs_results/taskresultrecord/r-123/change/"' in html


# -- actions ----------------------------------------------------------------------------


def log_entries(name: str) -> list[LogEntry]:
    return list(LogEntry.objects.filter(object_id=name).order_by("action_time"))


def test_redrive_all_confirms_then_moves_them_back(queues, boss):
    poison(['{"a": 1}', '{"a": 2}', '{"a": 3}'])
    html = text(boss.get(page(ORDERS_DLQ, "redrive/")))
    assert "all 3 messages" in html and ORDERS_DLQ in html and ORDERS in html
    assert counts(ORDERS_DLQ) == (3, 0)  # nothing happens on GET
    response = boss.post(page(ORDERS_DLQ, "redrive/"), follow=True)
    assert "Redrove 3 message(s)" in text(response)
    assert counts(ORDERS_DLQ) == (0, 0) and sorted(r["Body"] for r in drain(ORDERS)) == ['{"a": 1}', '{"a": 2}', '{"a": 3}']
    (entry,) = log_entries(ORDERS_DLQ)
    assert entry.user.username == "boss" and "3 message(s)" in entry.change_message
    assert boss.get(entry.get_admin_url()).status_code == 200  # the admin's link (quoted name) works
    assert "Redrove 3" in text(boss.get(page(ORDERS_DLQ)))  # the history on the queue's page


class MoveTaskServer:
    """The real client, plus SQS's message-move API as AWS documents its answers (moto lacks it)."""

    def __init__(self, real):
        self.real, self.calls = real, []

    def __getattr__(self, name):
        return getattr(self.real, name)

    def start_message_move_task(self, **kwargs):
        self.calls.append(("start", kwargs))
        return {"TaskHandle": "handle-1"}

    def list_message_move_tasks(self, **kwargs):
        return {"Results": [{"TaskHandle": "handle-1", "Status": "RUNNING", "SourceArn": kwargs["SourceArn"],
                             "ApproximateNumberOfMessagesMoved": 1, "ApproximateNumberOfMessagesToMove": 3}]}

    def cancel_message_move_task(self, **kwargs):
        self.calls.append(("cancel", kwargs))
        return {"ApproximateNumberOfMessagesMoved": 1}


def test_redrive_uses_sqs_move_tasks_where_served_with_progress_and_cancel(queues, boss, monkeypatch):
    monkeypatch.setattr(actions, "_no_move_tasks", set())
    fake = MoveTaskServer(get_client())
    monkeypatch.setattr(actions, "get_client", lambda: fake)
    poison(['{"a": 1}'])
    response = boss.post(page(ORDERS_DLQ, "redrive/"), follow=True)
    assert "SQS moves the messages" in text(response)
    (_, started), = fake.calls
    assert started["SourceArn"].endswith(f":{ORDERS_DLQ}") and started["DestinationArn"].endswith(f":{ORDERS}")
    html = text(boss.get(page(ORDERS_DLQ)))
    assert "RUNNING" in html and "?task=handle-1" in html
    assert boss.post(page(ORDERS_DLQ, "cancel/"), {"task": "forged"}).status_code == 302
    assert len(fake.calls) == 1  # a handle this queue does not have is never sent
    boss.post(page(ORDERS_DLQ, "cancel/"), {"task": "handle-1"})
    assert fake.calls[-1] == ("cancel", {"TaskHandle": "handle-1"})
    assert [e.change_message.split(" ")[0] for e in log_entries(ORDERS_DLQ)] == ["Redrive", "Cancelled"]


def test_moto_lacks_move_tasks_and_the_fallback_is_remembered(queues, boss):
    actions._no_move_tasks.clear()
    poison(['{"a": 1}'])
    assert boss.post(page(ORDERS_DLQ, "redrive/"), follow=True).status_code == 200
    assert not actions.move_tasks_served()
    assert counts(ORDERS) == (1, 0)


def test_retry_one_sends_it_back_and_deletes_it(queues, boss):
    ids = poison(['{"r": 1}', '{"r": 2}', '{"r": 3}'])
    html = text(boss.get(page(ORDERS_DLQ, "retry/") + f"?message={ids[1]}"))
    assert "1 message" in html and ids[1] in html
    boss.post(page(ORDERS_DLQ, "retry/"), {"message": ids[1]})
    assert [r["Body"] for r in drain(ORDERS)] == ['{"r": 2}']
    assert sorted(r["MessageId"] for r in drain(ORDERS_DLQ)) == sorted([ids[0], ids[2]])
    (entry,) = log_entries(ORDERS_DLQ)
    assert f"Retried 1 message of {ORDERS_DLQ}: {ids[1]}" in entry.change_message


def test_delete_one(queues, boss):
    ids = poison(['{"d": 1}', '{"d": 2}'])
    response = boss.post(page(ORDERS_DLQ, "delete/"), {"message": ids[0]}, follow=True)
    assert "Deleted 1 message" in text(response)
    assert [r["MessageId"] for r in drain(ORDERS_DLQ)] == [ids[1]]
    assert log_entries(ORDERS_DLQ)[0].action_flag == 3  # DELETION


def test_retry_of_a_message_already_gone_says_so(queues, boss):
    poison(['{"g": 1}'])
    response = boss.post(page(ORDERS_DLQ, "retry/"), {"message": "not-there"}, follow=True)
    assert "The message was not found" in text(response)
    assert counts(ORDERS_DLQ) == (1, 0) and log_entries(ORDERS_DLQ) == []


def test_purge_and_sqs_once_a_minute_limit(queues, boss):
    for i in range(4):
        get_client().send_message(QueueUrl=url_of(AUDIT), MessageBody=str(i))
    assert "all 4 messages" in text(boss.get(page(AUDIT, "purge/")))
    response = boss.post(page(AUDIT, "purge/"), follow=True)
    assert "Purged t__audit (about 4 message(s))" in text(response)
    assert counts(AUDIT) == (0, 0)
    get_client().send_message(QueueUrl=url_of(AUDIT), MessageBody="after")
    response = boss.post(page(AUDIT, "purge/"), follow=True)
    assert "SQS allows one purge per queue every 60 seconds" in text(response)
    assert_no_aws_text(response)
    assert counts(AUDIT) == (1, 0) and len(log_entries(AUDIT)) == 1


# -- permissions, read-only, CSRF -------------------------------------------------------

ACTION_POSTS = [("redrive/", {}), ("retry/", {"message": "x"}), ("delete/", {"message": "x"}),
                ("purge/", {}), ("cancel/", {"task": "x"})]


def test_staff_without_the_view_permission_get_403(queues, client, django_user_model):
    client.force_login(staff(django_user_model, "nobody"))
    assert client.get(LIST).status_code == 403
    assert client.get(page(ORDERS)).status_code == 403
    assert "SQS queues" not in text(client.get("/admin/"))


def test_each_action_needs_its_own_permission(queues, client, django_user_model):
    poison(['{"p": 1}'])
    client.force_login(staff(django_user_model, "viewer", "view"))
    assert client.get(LIST).status_code == 200
    html = text(client.get(page(ORDERS_DLQ)))
    assert 'id="sqs-redrive"' not in html and 'id="sqs-purge"' not in html and 'id="sqs-peek"' not in html
    assert client.post(page(ORDERS_DLQ, "messages/"), {"page": "1"}).status_code == 403
    for tail, data in ACTION_POSTS:
        assert client.get(page(ORDERS_DLQ, tail), data).status_code == 403, tail
        assert client.post(page(ORDERS_DLQ, tail), data).status_code == 403, tail
    assert counts(ORDERS_DLQ) == (1, 0) and LogEntry.objects.count() == 0

    client.force_login(staff(django_user_model, "purger", "view", "purge"))
    assert client.post(page(ORDERS_DLQ, "redrive/")).status_code == 403
    assert client.post(page(ORDERS_DLQ, "purge/")).status_code == 302
    assert counts(ORDERS_DLQ) == (0, 0)


def test_read_only_hides_and_refuses_every_action(queues, boss, settings):
    settings.SQS_ADMIN_READ_ONLY = True
    poison(['{"ro": 1}'])
    html = text(boss.get(page(ORDERS_DLQ)))
    assert 'id="sqs-redrive"' not in html and 'id="sqs-purge"' not in html and "Read-only" in html
    html = text(boss.post(page(ORDERS_DLQ, "messages/"), {"page": "1"}))
    assert "Retry (back to" not in html and "Delete</a>" not in html
    for tail, data in ACTION_POSTS:
        assert boss.post(page(ORDERS_DLQ, tail), data).status_code == 403, tail
    assert counts(ORDERS_DLQ) == (1, 0)


def test_csrf_is_enforced_on_every_action(queues, django_user_model):
    client = Client(enforce_csrf_checks=True)
    client.force_login(django_user_model.objects.create_superuser("b2", password="pw"))
    poison(['{"c": 1}'])
    for tail, data in [*ACTION_POSTS, ("messages/", {"page": "1"})]:
        assert client.post(page(ORDERS_DLQ, tail), data).status_code == 403, tail
    assert counts(ORDERS_DLQ) == (1, 0) and counts(ORDERS) == (0, 0)
    # With the form's token it goes through.
    html = text(client.get(page(ORDERS_DLQ, "purge/")))
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)
    assert client.post(page(ORDERS_DLQ, "purge/"), {"csrfmiddlewaretoken": token}).status_code == 302


# -- errors -----------------------------------------------------------------------------


def test_sqs_unreachable_is_a_clear_page(queues, boss, settings):
    settings.SQS_ENDPOINT_URL = "http://127.0.0.1:9"  # nothing listens on the discard port
    response = boss.get(LIST)
    assert response.status_code == 503
    assert "SQS could not be reached" in text(response)
    assert_no_aws_text(response)
    assert boss.get("/admin/").status_code == 200  # the rest of the admin is unaffected


def test_access_denied_is_said_without_aws_text(queues, boss, monkeypatch):
    def denied(full_name):
        raise SQSRequestError(
            "GetQueueAttributes failed: User: arn:aws:sts::123456789012:assumed-role/web/i-0abc is not "
            "authorized to perform: sqs:getqueueattributes", code="AccessDenied", action="GetQueueAttributes",
        )

    monkeypatch.setattr(inventory, "attributes", denied)
    for url in (LIST, page(ORDERS)):
        response = boss.get(url)
        assert response.status_code == 503
        assert "access was denied" in text(response) and "GetQueueAttributes failed, AccessDenied" in text(response)
        assert_no_aws_text(response, "123456789012", "assumed-role")


def test_a_queue_deleted_meanwhile(queues, boss):
    poison(['{"x": 1}'])
    boss.get(page(ORDERS_DLQ))  # its URL is now cached in this process
    get_client().delete_queue(QueueUrl=url_of(ORDERS_DLQ))
    response = boss.get(page(ORDERS_DLQ))
    assert response.status_code == 200 and "This queue does not exist in SQS" in text(response)
    for tail, data in ACTION_POSTS[:4]:
        response = boss.post(page(ORDERS_DLQ, tail), data, follow=True)
        assert response.status_code == 200 and "does not exist" in text(response), tail
        assert_no_aws_text(response)
    response = boss.post(page(ORDERS_DLQ, "messages/"), {"page": "1"})
    assert "does not exist" in text(response)
    assert LogEntry.objects.count() == 0


# -- system checks ----------------------------------------------------------------------


def test_checks_refuse_non_boolean_settings_and_warn_about_live_peeking(settings):
    from django_sqs.dashboard.checks import check_dashboard_settings

    settings.SQS_ADMIN_READ_ONLY = "yes"
    assert [p.id for p in check_dashboard_settings()] == ["django_sqs.E060"]
    settings.SQS_ADMIN_READ_ONLY = False
    settings.SQS_ADMIN_PEEK_LIVE_QUEUES = True
    assert [p.id for p in check_dashboard_settings()] == ["django_sqs.W060"]


# -- what each page costs in SQS requests (docs/topics/dashboard.rst) -----------------------


def test_request_costs_of_a_peek_a_retry_and_a_purge(queues, boss):
    ids = poison(['{"c": 1}', '{"c": 2}', '{"c": 3}'])
    boss.get(page(ORDERS_DLQ))  # URLs looked up once per process
    queues.reset_counts()
    boss.post(page(ORDERS_DLQ, "messages/"), {"page": "1"})
    assert queues.counts() == {"ReceiveMessage": 2, "ChangeMessageVisibilityBatch": 1}
    queues.reset_counts()
    boss.post(page(ORDERS_DLQ, "retry/"), {"message": ids[0]})
    found = queues.counts()
    assert found["SendMessage"] == 1 and found["DeleteMessage"] == 1
    assert 1 <= found["ReceiveMessage"] <= 10 and found.get("ChangeMessageVisibilityBatch", 0) <= 1
    queues.reset_counts()
    boss.post(page(AUDIT, "purge/"))
    assert queues.counts() == {"GetQueueAttributes": 1, "PurgeQueue": 1}


def test_fifty_queues_in_one_request_per_queue(server, boss):
    import time

    only_dashboard_queues()
    for i in range(47):  # with orders, its dead-letter queue and audit: 50
        queue_url(register(f"many{i:02}"))
    boss.get("/admin/")  # the admin's own first-request costs are not the list's
    server.reset_counts()
    started = time.monotonic()
    response = boss.get(LIST)
    elapsed = time.monotonic() - started
    assert response.status_code == 200 and text(response).count('data-queue="') == 50
    assert server.counts()["GetQueueAttributes"] == 50 and server.counts()["ListQueues"] == 1
    assert elapsed < 30  # a generous bound; it takes about a second against the local server
