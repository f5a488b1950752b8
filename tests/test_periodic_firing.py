"""Mode B in-process with a frozen clock: claims, the cursor across restarts, recovery of
an unsent claim, send failures; the tick on the message and in the task's context."""

import datetime as dt
import logging

import pytest
from django.core.management import call_command

from django_sqs import provisioning, receiver
from django_sqs.message import Message, Tick
from django_sqs.periodic import claims, once_per_tick, periodic
from django_sqs.periodic.declarations import all_schedules, declared, resolve
from django_sqs.periodic.loop import Firer
from django_sqs.periodic.schedule import Schedule
from django_sqs.registry import registry
from django_sqs.tasks.compat import task
from tests.task_helpers import use_backend

pytestmark = pytest.mark.django_db(transaction=True)
UTC = dt.timezone.utc
T0 = dt.datetime(2026, 6, 1, 12, 0, 0, tzinfo=UTC)
ticks_seen: list = []


@task(takes_context=True)
def tick_task(context, size=0):
    ticks_seen.append((context.tick, size))


@pytest.fixture(autouse=True)
def _clean():
    saved = dict(declared)
    ticks_seen.clear()
    yield
    declared.clear()
    declared.update(saved)


class Clock:
    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now


def every_minute(target="echo", kind="queue", **kw):
    return Schedule(name="minutely", kind=kind, target=target, every=dt.timedelta(minutes=1), **kw)


def received(sqs, name="echo"):
    url = provisioning.queue_url(registry.get(name))
    out = []
    while got := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]).get("Messages"):
        out += [Message.from_sqs(m, name) for m in got]
    return out


def test_each_tick_claimed_once_and_sent_with_its_identity(sqs):
    clock = Clock(T0 + dt.timedelta(seconds=30))
    a = Firer([every_minute()], claimant="a", clock=clock)
    b = Firer([every_minute()], claimant="b", clock=clock)
    a.round(), b.round()
    assert received(sqs) == []  # a first start fires nothing of the past
    clock.now = T0 + dt.timedelta(minutes=1, seconds=1)
    a.round(), b.round()
    messages = received(sqs)
    assert len(messages) == 1
    tick = Tick("minutely", T0 + dt.timedelta(minutes=1))
    assert messages[0].tick == tick
    assert messages[0].get_body() == tick.at.isoformat()  # the default body
    rows = list(claims.model().objects.all())
    assert [(r.schedule, r.tick, r.claimed_by, r.claims) for r in rows] == [("minutely", tick.at, "a", 1)]
    assert rows[0].sent_at is not None and rows[0].message_id == messages[0].id


def test_a_plain_message_has_no_tick(sqs):
    registry.get("echo")
    assert Message(body="x").tick is None
    assert Message.from_sqs({"Body": "x", "MessageAttributes": {"django_sqs.tick": {"StringValue": "junk"}}}).tick is None


def test_restart_catches_up_from_the_last_claimed_tick(sqs):
    clock = Clock(T0 + dt.timedelta(seconds=1))
    schedule = every_minute(catch_up="last")
    claims.claim("minutely", T0, "old")  # fired before the outage
    clock.now = T0 + dt.timedelta(hours=3, seconds=1)
    Firer([schedule], claimant="new", clock=clock).round()
    # The latest missed tick (14:59) and the on-time one (15:00); none of the 178 before.
    assert sorted(m.tick.at for m in received(sqs)) == [T0 + dt.timedelta(hours=2, minutes=59), T0 + dt.timedelta(hours=3)]
    schedule_all = every_minute(catch_up="all", catch_up_limit=5)
    clock.now += dt.timedelta(minutes=10)
    Firer([schedule_all], claimant="newer", clock=clock).round()
    assert sorted(m.tick.at for m in received(sqs)) == [T0 + dt.timedelta(hours=3, minutes=m) for m in range(6, 11)]


def test_an_unsent_claim_is_taken_over_after_the_lease_and_sent_once(sqs):
    clock = Clock(T0)
    row = claims.claim("minutely", T0, "dead-host:1")
    claims.model().objects.filter(pk=row.pk).update(claimed_at=dt.datetime.now(UTC) - dt.timedelta(seconds=61))
    a = Firer([every_minute()], claimant="a", clock=clock, lease=dt.timedelta(seconds=60))
    b = Firer([every_minute()], claimant="b", clock=clock, lease=dt.timedelta(seconds=60))
    a.recover(), b.recover()
    assert [m.tick.at for m in received(sqs)] == [T0]
    row.refresh_from_db()
    assert row.claims == 2 and row.claimed_by == "a" and row.sent_at is not None


def test_a_fresh_unsent_claim_is_left_to_its_claimant(sqs):
    claims.claim("minutely", T0, "busy-host:1")
    Firer([every_minute()], claimant="a", clock=Clock(T0), lease=dt.timedelta(seconds=60)).recover()
    assert received(sqs) == []


def test_a_failed_send_is_recorded_and_recovered_later(sqs, caplog):
    clock = Clock(T0 + dt.timedelta(seconds=1))
    firer = Firer([every_minute(target="no_such_queue")], claimant="a", clock=clock)
    firer.cursors["minutely"] = T0 - dt.timedelta(seconds=1)
    with caplog.at_level(logging.ERROR, logger="django_sqs.periodic"):
        firer.round()
    row = claims.model().objects.get()
    assert row.sent_at is None and "no_such_queue" in row.error
    assert "schedule tick not sent schedule=minutely" in caplog.text


@pytest.mark.parametrize("store", [False, True])
def test_the_task_gets_the_tick_in_its_context(sqs, settings, store):
    use_backend(settings, store=store)
    schedule = every_minute(target=f"{__name__}.tick_task", kind="task", kwargs={"size": 3})
    firer = Firer([schedule], claimant="a", clock=Clock(T0 + dt.timedelta(seconds=1)))
    firer.cursors["minutely"] = T0 - dt.timedelta(seconds=1)
    firer.round()
    call_command("runreceiver", "tasks__default__default", "--burst")
    assert ticks_seen == [(Tick("minutely", T0), 3)]
    if store:  # the claim row names the result, which the store has as successful
        from django_sqs.tasks.compat import TaskResultStatus, task_backends

        result_id = claims.model().objects.get().message_id
        assert task_backends["default"].get_result(result_id).status == TaskResultStatus.SUCCESSFUL


def test_periodic_stacks_both_ways_on_receivers_and_on_tasks(settings):
    @periodic(cron="0 3 * * *", timezone="Europe/Paris")
    @receiver("stack_above")
    def above(message):
        pass

    @receiver("stack_below")
    @periodic(every=dt.timedelta(seconds=5), name="below")
    def below(message):
        pass

    periodic(cron="*/5 * * * *", name="task-above")(tick_task)  # as @periodic above @task

    from tests import tasks

    periodic(every=dt.timedelta(minutes=1), name="task-below")(tasks.noop_task.func)  # as @periodic under @task

    by_name = {s.name: s for s in all_schedules()}
    assert resolve(by_name["task-below"])[1] is tasks.noop_task
    assert (by_name["stack_above"].kind, by_name["stack_above"].target) == ("queue", "stack_above")
    assert by_name["stack_above"].timezone == "Europe/Paris"

    kind, rq = resolve(by_name["below"])
    assert (kind, rq.name) == ("queue", "stack_below")
    assert (by_name["task-above"].kind, by_name["task-above"].target) == ("task", f"{__name__}.tick_task")


def test_settings_schedules(settings):
    settings.SQS_SCHEDULES = {
        "ping": {"queue": "echo", "every": 30, "body": "ping"},
        "report": {"task": f"{__name__}.tick_task", "cron": "0 3 * * *", "kwargs": {"size": 1}},
    }
    by_name = {s.name: s for s in all_schedules()}
    assert by_name["ping"].every == dt.timedelta(seconds=30) and by_name["ping"].body == "ping"
    assert by_name["report"].kind == "task"


def test_once_per_tick_skips_a_second_delivery_and_retries_after_a_failure(settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "tick-test"}}
    tick = Tick("s", T0)
    message = Message(body="x")
    message.message_attributes.update(tick.as_attributes())
    with pytest.raises(ValueError), once_per_tick(message) as first:
        assert first
        raise ValueError("the work failed")
    with once_per_tick(message) as first:
        assert first  # the failure gave the tick back
    with once_per_tick(message) as first:
        assert not first  # done once: the repeat skips
    with once_per_tick(Message(body="no tick")) as first:
        assert first


def test_once_per_tick_takes_a_task_context(settings):
    from django_sqs.tasks.context import SQSTaskContext

    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "ctx-test"}}
    context = SQSTaskContext(task_result=None, tick=Tick("s", T0))
    with once_per_tick(context) as first:
        assert first
    with once_per_tick(context) as first:
        assert not first


def test_prune_keeps_each_schedules_latest_row():
    day = dt.timedelta(days=1)
    for i, name in enumerate(["busy", "busy", "busy", "daily"]):
        row = claims.claim(name, T0 - day * (3 - i), "a")
        claims.mark_sent(row, "m")
    unsent = claims.claim("busy", T0 - day * 5, "a")  # never sent: kept for recovery
    for name in ("busy", "daily"):
        claims.prune(name, before=T0)
    left = sorted((r.schedule, r.tick) for r in claims.model().objects.all())
    assert left == [("busy", unsent.tick), ("busy", T0 - day), ("daily", T0)]


def test_a_fifo_target_gets_a_group_and_a_deduplication_id_per_tick(sqs):
    clock = Clock(T0 + dt.timedelta(seconds=1))
    schedule = every_minute(target="groups.fifo", body={"fixed": True}, catch_up="all")
    firer = Firer([schedule], claimant="a", clock=clock)
    firer.cursors["minutely"] = T0 - dt.timedelta(minutes=2, seconds=1)
    firer.round()  # three ticks with one and the same body
    url = provisioning.queue_url(registry.get("groups.fifo"))
    got = []
    while batch := sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], MessageSystemAttributeNames=["All"],
    ).get("Messages"):
        got += batch
        for m in batch:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    assert len(got) == 3  # not deduplicated by content
    assert {m["Attributes"]["MessageGroupId"] for m in got} == {"minutely"}
    assert {m["Attributes"]["MessageDeduplicationId"] for m in got} == {
        f"minutely@{(T0 - dt.timedelta(minutes=m)).isoformat()}" for m in range(3)
    }


@pytest.mark.parametrize("on_conflict", [True, False])
def test_a_tick_is_claimed_once_with_or_without_on_conflict(monkeypatch, on_conflict):
    from django.db import connection

    monkeypatch.setattr(connection.features, "supports_ignore_conflicts", on_conflict)
    first = claims.claim("s", T0, "a")
    assert first is not None and first.claimed_by == "a"
    assert claims.claim("s", T0, "b") is None
    assert claims.claim("s", T0, "a") is None  # not even the same claimant twice
    assert claims.model().objects.get().claimed_by == "a"
