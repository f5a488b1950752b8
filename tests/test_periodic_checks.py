"""System checks of periodic work: one test per id (E070–E078, W070)."""

import datetime as dt
import io

import pytest
from django.core.management import CommandError, call_command

from django_sqs.periodic.checks import check_schedules
from django_sqs.periodic.declarations import declared

ROLE = "arn:aws:iam::123456789012:role/scheduler"


@pytest.fixture(autouse=True)
def _no_declared():
    saved = dict(declared)
    declared.clear()
    yield
    declared.update(saved)


def found(error_id):
    errors = [e for e in check_schedules() if e.id == error_id]
    assert errors, [(e.id, e.msg) for e in check_schedules()]
    assert all(e.hint for e in errors)
    return errors[0]


def test_the_test_settings_are_clean(settings):
    settings.SQS_SCHEDULES = {"ok": {"queue": "echo", "cron": "0 3 * * *"}}
    assert check_schedules() == []


@pytest.mark.parametrize(
    "entry", [[1], {"cron": "0 3 * * *"}, {"queue": "echo", "task": "x.y", "cron": "0 3 * * *"}, {"queue": "echo", "crn": "0 3 * * *"}]
)
def test_e070_malformed_settings_entry(settings, entry):
    settings.SQS_SCHEDULES = {"bad": entry}
    found("django_sqs.E070")


@pytest.mark.parametrize(
    "entry, words",
    [
        ({"cron": "61 3 * * *"}, "cron expression"),
        ({"cron": "0 3 * *"}, "4 fields"),
        ({"every": 0.5}, "at least 1"),
        ({"cron": "0 3 * * *", "timezone": "Mars/Olympus"}, "IANA"),
        ({"cron": "0 3 * * *", "catch_up": "some"}, "catch_up"),
        ({"cron": "0 3 * * *", "every": 60}, "exactly one"),
    ],
)
def test_e071_invalid_expression(settings, entry, words):
    settings.SQS_SCHEDULES = {"bad": {"queue": "echo", **entry}}
    assert words in found("django_sqs.E071").msg


@pytest.mark.parametrize("name", ["with space", "x" * 65, "ünïcode", ""])
def test_e072_name_outside_the_rules(settings, name):
    settings.SQS_SCHEDULES = {name: {"queue": "echo", "cron": "0 3 * * *"}}
    found("django_sqs.E072")


def test_e072_two_schedules_with_one_name(settings):
    from django_sqs import periodic
    from tests import receivers

    periodic(cron="0 3 * * *", name="same")(receivers.echo)
    settings.SQS_SCHEDULES = {"same": {"queue": "echo", "cron": "0 4 * * *"}}
    assert "same" in found("django_sqs.E072").msg


@pytest.mark.parametrize(
    "entry",
    [
        {"queue": "no_such_queue"},
        {"task": "tests.tasks.no_such_task"},
        {"task": "tests.receivers.record"},  # importable, not a task
        {"queue": "photos"},  # ModelInstanceMessage: cannot carry a fixed body
    ],
)
def test_e073_unknown_or_unusable_target(settings, entry):
    settings.SQS_SCHEDULES = {"bad": {"cron": "0 3 * * *", **entry}}
    found("django_sqs.E073")


@pytest.mark.parametrize("entry", [{"every": 30}, {"every": 90}, {"cron": "0 0 1 * 1"}])
def test_e074_mode_a_cannot_express(settings, entry):
    settings.SQS_SCHEDULE_MODE = "eventbridge"
    settings.SQS_SCHEDULER_ROLE_ARN = ROLE
    settings.SQS_SCHEDULES = {"fast": {"queue": "echo", **entry}}
    found("django_sqs.E074")


def test_one_second_is_fine_in_mode_b(settings):
    settings.SQS_SCHEDULES = {"fast": {"queue": "echo", "every": 1}}
    assert check_schedules() == []


@pytest.mark.parametrize("databases", [{}, {"default": {"ENGINE": "django.db.backends.dummy"}}])
def test_e075_mode_b_without_a_database(settings, monkeypatch, databases):
    settings.SQS_SCHEDULES = {"s": {"queue": "echo", "cron": "0 3 * * *"}}
    # Set underneath Django's signal (it warns that connections would not follow): only
    # the check reads it here.
    from django.conf import settings as django_settings

    monkeypatch.setattr(django_settings._wrapped, "DATABASES", databases)
    found("django_sqs.E075")


def test_e076_mode_b_without_the_app(settings):
    settings.SQS_SCHEDULES = {"s": {"queue": "echo", "cron": "0 3 * * *"}}
    settings.INSTALLED_APPS = [a for a in settings.INSTALLED_APPS if a != "django_sqs.schedules"]
    found("django_sqs.E076")


def test_e077_unknown_mode(settings):
    settings.SQS_SCHEDULE_MODE = "cron"
    found("django_sqs.E077")


def test_e078_mode_a_without_a_role(settings):
    settings.SQS_SCHEDULE_MODE = "eventbridge"
    settings.SQS_SCHEDULES = {"s": {"queue": "echo", "cron": "0 3 * * *"}}
    found("django_sqs.E078")


def test_w070_one_second_catching_up_all(settings):
    settings.SQS_SCHEDULES = {"s": {"queue": "echo", "every": 1, "catch_up": "all"}}
    assert found("django_sqs.W070").level < 40


@pytest.mark.django_db  # Django 6.1's check command also checks the database
def test_checks_run_under_manage_py_check(settings):
    settings.SQS_SCHEDULES = {"bad": {"queue": "echo", "cron": "nope"}}
    from django.core.management.base import SystemCheckError

    with pytest.raises(SystemCheckError, match="django_sqs.E071"):
        call_command("check")


def test_runreceiver_schedules_refused_in_mode_a(settings):
    settings.SQS_SCHEDULE_MODE = "eventbridge"
    settings.SQS_SCHEDULER_ROLE_ARN = ROLE
    settings.SQS_SCHEDULES = {"s": {"queue": "echo", "cron": "0 3 * * *"}}
    with pytest.raises(CommandError, match="SQS_SCHEDULE_MODE"):
        call_command("runreceiver", "echo", "--schedules", "--burst", stdout=io.StringIO())


def test_runreceiver_schedules_refused_with_no_schedule(settings):
    with pytest.raises(CommandError, match="no schedule is declared"):
        call_command("runreceiver", "echo", "--schedules", "--burst", stdout=io.StringIO())


def test_periodic_refuses_a_bad_declaration_at_once():
    from django_sqs import periodic
    from django_sqs.exceptions import ConfigurationError

    with pytest.raises(ConfigurationError, match="exactly one"):
        periodic()(lambda m: None)
    with pytest.raises(ConfigurationError, match="whole number of seconds"):
        periodic(every=dt.timedelta(milliseconds=1500))(lambda m: None)
