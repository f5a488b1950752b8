"""Mode A against the local server's EventBridge Scheduler API (moto): create, update,
delete, --dry-run changes nothing, a second sync makes no write request; the cron
translation table; the target's SendMessage request, filled in as Scheduler does, is a
message the worker reads with its tick."""

import datetime as dt
import io
import json

import pytest
from django.core.management import CommandError, call_command

from django_sqs import provisioning
from django_sqs.client import get_client
from django_sqs.message import Message, Tick
from django_sqs.periodic import aws
from django_sqs.periodic.aws import SCHEDULED_TIME, aws_expression
from django_sqs.periodic.schedule import Schedule, ScheduleError
from django_sqs.registry import registry

ROLE = "arn:aws:iam::123456789012:role/django-sqs-scheduler"
WRITES = {"CreateSchedule", "UpdateSchedule", "DeleteSchedule", "CreateScheduleGroup", "DeleteScheduleGroup"}


@pytest.mark.parametrize(
    "unix, expected",
    [
        ("0 3 * * *", "cron(0 3 * * ? *)"),
        ("*/15 * * * *", "cron(0/15 * * * ? *)"),
        ("30 2 1 * *", "cron(30 2 1 * ? *)"),
        ("0 9 * * 1-5", "cron(0 9 ? * 2-6 *)"),
        ("0 9 * * 0", "cron(0 9 ? * 1 *)"),
        ("0 9 * * 7", "cron(0 9 ? * 1 *)"),
        ("0 9 * * 0,6", "cron(0 9 ? * 1,7 *)"),
        ("0 9 * * MON-FRI", "cron(0 9 ? * MON-FRI *)"),
        ("0 9 * * 1#2", "cron(0 9 ? * 2#2 *)"),
        ("0 9 * * 5L", "cron(0 9 ? * 6L *)"),
        ("0 0 L * *", "cron(0 0 L * ? *)"),
        ("0 0 */2 * *", "cron(0 0 1/2 * ? *)"),
        ("0 */6 * JAN,JUL *", "cron(0 0/6 * JAN,JUL ? *)"),
        ("@daily", "cron(0 0 * * ? *)"),
        ("@weekly", "cron(0 0 ? * 1 *)"),
    ],
)
def test_unix_cron_to_aws_cron(unix, expected):
    assert aws_expression(Schedule("s", "queue", "echo", cron=unix)) == expected


@pytest.mark.parametrize(
    "seconds, expected", [(60, "rate(1 minute)"), (300, "rate(5 minutes)"), (3600, "rate(1 hour)"), (7200, "rate(2 hours)"), (86400, "rate(1 day)")]
)
def test_every_to_rate(seconds, expected):
    assert aws_expression(Schedule("s", "queue", "echo", every=dt.timedelta(seconds=seconds))) == expected


@pytest.mark.parametrize(
    "kw, problem",
    [
        ({"every": dt.timedelta(seconds=30)}, "one minute"),
        ({"every": dt.timedelta(seconds=90)}, "whole number of minutes"),
        ({"cron": "0 0 1 * 1"}, "both the day of the month and the day of the week"),
        ({"cron": "0 0 * * 5-7"}, "wraps past Saturday"),
    ],
)
def test_what_aws_cannot_express(kw, problem):
    with pytest.raises(ScheduleError, match=problem):
        aws_expression(Schedule("s", "queue", "echo", **kw))


@pytest.fixture
def mode_a(server, settings, monkeypatch):
    settings.SQS_SCHEDULE_MODE = "eventbridge"
    settings.SQS_SCHEDULER_ROLE_ARN = ROLE
    settings.SQS_SCHEDULES = {
        "nightly": {"queue": "jobs", "cron": "0 3 * * *", "timezone": "Europe/Paris", "body": {"action": "ok"}},
        "fifo-ping": {"queue": "groups.fifo", "every": 300},
    }
    for name in ("jobs", "groups.fifo"):
        provisioning.queue_url(registry.get(name))  # sqs_create_queues comes first
    calls = []
    make = aws.scheduler_client

    def counting_client():
        client = make()
        client.meta.events.register("before-call.scheduler", lambda model, **kw: calls.append(model.name))
        return client

    monkeypatch.setattr(aws, "scheduler_client", counting_client)
    yield calls
    client = make()
    try:
        client.get_schedule_group(Name="t")
    except client.exceptions.ResourceNotFoundException:
        return
    for s in client.list_schedules(GroupName="t")["Schedules"]:
        client.delete_schedule(Name=s["Name"], GroupName="t")
    client.delete_schedule_group(Name="t")


def sync(*args):
    out = io.StringIO()
    call_command("sqs_sync_schedules", *args, stdout=out)
    return out.getvalue()


def in_aws():
    client = aws.scheduler_client()
    return {s["Name"]: client.get_schedule(Name=s["Name"], GroupName="t") for s in client.list_schedules(GroupName="t")["Schedules"]}


def test_dry_run_changes_nothing(mode_a):
    out = sync("--dry-run")
    assert "+ schedule group t" in out and "+ nightly: cron(0 3 * * ? *) Europe/Paris" in out and "+ fifo-ping" in out
    assert not WRITES & set(mode_a)
    client = aws.scheduler_client()
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.get_schedule_group(Name="t")


def test_create_then_idempotent_then_update_then_delete(mode_a, settings):
    sync()
    schedules = in_aws()
    assert set(schedules) == {"nightly", "fifo-ping"}
    nightly = schedules["nightly"]
    assert (nightly["ScheduleExpression"], nightly["ScheduleExpressionTimezone"]) == ("cron(0 3 * * ? *)", "Europe/Paris")
    assert nightly["Target"]["RoleArn"] == ROLE and nightly["Target"]["Arn"] == aws.SEND_MESSAGE_ARN
    request = json.loads(nightly["Target"]["Input"])
    assert request["QueueUrl"].endswith("/t__jobs")
    assert request["MessageAttributes"]["django_sqs.tick"]["StringValue"] == SCHEDULED_TIME
    fifo = json.loads(schedules["fifo-ping"]["Target"]["Input"])
    assert fifo["MessageGroupId"] == "fifo-ping" and fifo["MessageDeduplicationId"] == f"fifo-ping@{SCHEDULED_TIME}"
    assert schedules["fifo-ping"]["ScheduleExpression"] == "rate(5 minutes)"
    assert nightly["FlexibleTimeWindow"] == {"Mode": "OFF"} and nightly["State"] == "ENABLED"

    mode_a.clear()
    out = sync()
    assert "up to date, nothing changed" in out
    assert not WRITES & set(mode_a), mode_a  # a second run makes no write request

    settings.SQS_SCHEDULES = {**settings.SQS_SCHEDULES, "nightly": {**settings.SQS_SCHEDULES["nightly"], "cron": "0 4 * * *"}}
    mode_a.clear()
    out = sync()
    assert "~ nightly" in out and "cron(0 3 * * ? *) → cron(0 4 * * ? *)" in out
    assert [c for c in mode_a if c in WRITES] == ["UpdateSchedule"]
    assert in_aws()["nightly"]["ScheduleExpression"] == "cron(0 4 * * ? *)"

    settings.SQS_SCHEDULES = {"nightly": settings.SQS_SCHEDULES["nightly"]}
    mode_a.clear()
    out = sync()
    assert "- fifo-ping" in out
    assert [c for c in mode_a if c in WRITES] == ["DeleteSchedule"]
    assert set(in_aws()) == {"nightly"}


def test_the_target_request_as_scheduler_fills_it_in_is_a_message_with_its_tick(mode_a):
    sync()
    request = in_aws()["nightly"]["Target"]["Input"].replace(SCHEDULED_TIME, "2026-12-07T02:00:00Z")
    sqs = get_client()
    sqs.send_message(**json.loads(request))
    record = sqs.receive_message(QueueUrl=json.loads(request)["QueueUrl"], MessageAttributeNames=["All"])["Messages"][0]
    message = registry.get("jobs").message_class.from_sqs(record, "jobs")
    assert message.tick == Tick("nightly", dt.datetime(2026, 12, 7, 2, tzinfo=dt.timezone.utc))
    assert message.get_body() == {"action": "ok"}
    assert isinstance(message, Message)


def test_sync_refuses_in_mode_b(server, settings):
    settings.SQS_SCHEDULE_MODE = "workers"
    with pytest.raises(CommandError, match="every tick would be sent twice"):
        sync()


def test_a_missing_queue_is_reported_and_not_created(server, settings):
    settings.SQS_SCHEDULE_MODE = "eventbridge"
    settings.SQS_SCHEDULER_ROLE_ARN = ROLE
    settings.SQS_SCHEDULES = {"nightly": {"queue": "jobs", "cron": "0 3 * * *"}}
    with pytest.raises(CommandError, match="run manage.py sqs_create_queues before sqs_sync_schedules"):
        sync("--dry-run")
    assert get_client().list_queues().get("QueueUrls", []) == []
