"""``manage.py sqs_schedules``, the admin list of claimed ticks, and mode A's task target."""

import datetime as dt
import io
import json

import pytest
from django.core.management import call_command

from django_sqs.periodic import claims
from django_sqs.periodic.declarations import all_schedules
from django_sqs.tasks.envelope import Envelope
from tests.task_helpers import use_backend

pytestmark = pytest.mark.django_db(transaction=True)
UTC = dt.timezone.utc


def listing():
    out = io.StringIO()
    call_command("sqs_schedules", stdout=out)
    return out.getvalue()


def test_lists_target_expression_timezone_next_three_in_local_and_utc_and_the_last_tick(settings):
    settings.SQS_SCHEDULES = {
        "nightly": {"queue": "echo", "cron": "0 3 * * *", "timezone": "Europe/Paris"},
        "fast": {"queue": "echo", "every": 1},
    }
    tick = dt.datetime(2026, 6, 1, 1, tzinfo=UTC)
    row = claims.claim("nightly", tick, "host:1")
    claims.mark_sent(row, "msg-1")
    claims.claim("fast", tick, "host:2")
    out = listing()
    nightly = out.split("nightly")[1]
    assert "target:     queue echo" in nightly and "cron 0 3 * * *" in nightly and "timezone: Europe/Paris" in nightly
    assert nightly.count("next:") == 3
    assert "03:00:00 CE" in nightly and ("01:00:00 UTC" in nightly or "02:00:00 UTC" in nightly)
    assert "mode:       B (runreceiver --schedules)" in nightly
    assert "2026-06-01 01:00:00 UTC by host:1, sent" in nightly
    assert "by host:2, NOT SENT" in out.split("fast")[1].split("nightly")[0]


def test_lists_mode_a(settings):
    settings.SQS_SCHEDULE_MODE = "eventbridge"
    settings.SQS_SCHEDULES = {"nightly": {"queue": "echo", "cron": "0 3 * * *"}}
    assert "A (EventBridge Scheduler)" in listing()


def test_no_schedule(settings):
    assert "No schedule is declared" in listing()


def test_admin_list_shows_sent_and_the_next_tick(settings):
    settings.SQS_SCHEDULES = {"nightly": {"queue": "echo", "cron": "0 3 * * *"}}
    row = claims.claim("nightly", dt.datetime(2026, 6, 1, 3, tzinfo=UTC), "host:1")
    from django.contrib.admin import AdminSite

    from django_sqs.schedules.admin import ScheduleTickAdmin
    from django_sqs.schedules.models import ScheduleTick

    admin = ScheduleTickAdmin(ScheduleTick, AdminSite())
    assert "next_tick" in admin.list_display and "error" in admin.list_display
    assert admin.sent(row) is False
    nxt = admin.next_tick(row)
    assert (nxt.hour, nxt.minute) == (3, 0) and nxt > dt.datetime.now(UTC)
    claims.claim("gone", dt.datetime(2026, 6, 1, 3, tzinfo=UTC), "host:1")
    assert admin.next_tick(ScheduleTick.objects.get(schedule="gone")) == "-"


def test_mode_a_task_target_envelope_reads_back_once_filled_in(settings, sqs):
    from django_sqs.periodic.aws import EXECUTION_ID, SCHEDULED_TIME, target_input

    use_backend(settings, store=False)
    settings.SQS_SCHEDULES = {"t": {"task": "tests.tasks.noop_task", "cron": "0 3 * * *", "args": [1]}}
    (schedule,) = all_schedules()
    from django_sqs import provisioning
    from django_sqs.registry import registry

    provisioning.queue_url(registry.get("tasks__default__default"))
    request = target_input(schedule)
    body = request["MessageBody"].replace(SCHEDULED_TIME, "2026-12-07T03:00:00Z").replace(EXECUTION_ID, "d32c5kddcf5bb8c3")
    envelope = Envelope.from_json(json.loads(body))
    assert envelope.task == "tests.tasks.noop_task" and envelope.args == [1] and envelope.id == "d32c5kddcf5bb8c3"
    assert envelope.tick.schedule == "t" and envelope.tick.at == dt.datetime(2026, 12, 7, 3, tzinfo=UTC)
    assert request["MessageAttributes"]["django_sqs.schedule"]["StringValue"] == "t"
