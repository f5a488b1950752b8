"""System checks: one test per id, plus one proving they run under manage.py check."""

import pytest
from django.core.checks import Error, run_checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from django_sqs import register
from django_sqs.checks import check_settings
from django_sqs.registered_queue import RegisteredQueue
from django_sqs.registry import registry


def ids(errors=None):
    return [e.id for e in (check_settings() if errors is None else errors)]


def only(error_id):
    (error,) = [e for e in check_settings() if e.id == error_id]
    assert isinstance(error, Error)
    assert error.hint
    return error


def test_test_settings_are_clean():
    assert check_settings() == []


def test_e001_prefix_must_be_a_string(settings):
    settings.SQS_QUEUE_PREFIX = 5
    assert ids() == ["django_sqs.E001"]
    assert "must be a string, not int" in only("django_sqs.E001").msg


def test_e002_prefix_required_under_debug(settings):
    settings.DEBUG = True
    settings.SQS_QUEUE_PREFIX = ""
    assert ids() == ["django_sqs.E002"]
    assert "DEBUG" in only("django_sqs.E002").msg


def test_e002_empty_prefix_is_fine_without_debug(settings):
    settings.DEBUG = False
    settings.SQS_QUEUE_PREFIX = ""
    assert ids() == []


def test_e002_unset_prefix_counts_as_empty(settings):
    settings.DEBUG = True
    del settings.SQS_QUEUE_PREFIX
    assert ids() == ["django_sqs.E002"]


@pytest.mark.parametrize("prefix", ["dev me", "dev.fifo", "dév", "x" * 81])
def test_e003_prefix_sqs_would_refuse(settings, prefix):
    settings.SQS_QUEUE_PREFIX = prefix
    assert ids() == ["django_sqs.E003"]
    assert repr(prefix) in only("django_sqs.E003").msg


@pytest.mark.parametrize("value", [21, -1, "20", 2.5, True, None])
def test_e004_poll_period_outside_0_to_20(settings, value):
    settings.SQS_POLL_PERIOD = value
    assert ids() == ["django_sqs.E004"]


@pytest.mark.parametrize("value", [0, 20])
def test_e004_poll_period_bounds_are_fine(settings, value):
    settings.SQS_POLL_PERIOD = value
    assert ids() == []


@pytest.mark.parametrize("value", [-1, 43201, "60", None])
def test_e005_default_visibility_timeout(settings, value):
    settings.SQS_DEFAULT_VISIBILITY_TIMEOUT = value
    assert ids() == ["django_sqs.E005"]


@pytest.mark.parametrize("value", [["t__mail"], {"t__mail": None}, {"t__mail": ""}, {1: "http://x"}, "http://x"])
def test_e006_queue_urls_must_map_names_to_urls(settings, value):
    settings.SQS_QUEUE_URLS = value
    assert ids() == ["django_sqs.E006"]


@pytest.mark.parametrize("name", ["SQS_CREATE_QUEUES", "SQS_EAGER", "SQS_STATUS_PUBLIC"])
def test_e007_booleans(settings, name):
    setattr(settings, name, "yes")
    error = only("django_sqs.E007")
    assert name in error.msg
    assert ids() == ["django_sqs.E007"]


@pytest.mark.parametrize("name", ["SQS_REGION", "SQS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"])
def test_e008_strings(settings, name):
    setattr(settings, name, 42)
    assert "django_sqs.E008" in ids()
    assert name in only("django_sqs.E008").msg


def test_e009_endpoint_must_be_an_http_url(settings):
    settings.SQS_ENDPOINT_URL = "localhost:9324"
    assert ids() == ["django_sqs.E009"]
    settings.SQS_ENDPOINT_URL = "https://sqs.eu-west-1.amazonaws.com"
    assert ids() == []


@pytest.mark.parametrize("which", ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"])
def test_e010_only_half_of_the_credentials(settings, which):
    setattr(settings, which, "something")
    assert ids() == ["django_sqs.E010"]


def test_e010_both_credentials_are_fine(settings):
    settings.AWS_ACCESS_KEY_ID = "AKIA"
    settings.AWS_SECRET_ACCESS_KEY = "secret"
    assert ids() == []


def test_e011_registered_queue_name_sqs_would_refuse(settings):
    register("a" * 60, suffixes=("eu",))
    settings.SQS_QUEUE_PREFIX = "p" * 20  # fine on its own, too long with the name
    errors = [e for e in check_settings() if e.id == "django_sqs.E011"]
    assert len(errors) == 2  # the queue and its suffixed queue
    assert errors[0].obj == "a" * 60
    assert "'" + "p" * 20 + "__" + "a" * 60 + "'" in errors[0].msg
    assert "81 characters" not in errors[0].msg and "82 characters" in errors[0].msg
    assert errors[0].hint


def test_w030_a_dead_letter_queue_after_one_receive_leaves_no_room_for_a_give_back(settings):
    register("fragile", lambda message: None, dead_letter_queue="fragile_dlq", max_receive_count=1)
    (warning,) = [e for e in check_settings() if e.id == "django_sqs.W030"]
    assert warning.obj == "fragile" and "without having run" in warning.msg and warning.hint
    register("sturdy", lambda message: None, dead_letter_queue="sturdy_dlq", max_receive_count=2)
    assert [e.obj for e in check_settings() if e.id == "django_sqs.W030"] == ["fragile"]


def test_checks_are_registered_and_run_by_manage_py_check(settings):
    assert "django_sqs.E004" not in ids(run_checks())
    settings.SQS_POLL_PERIOD = 30
    assert "django_sqs.E004" in ids(run_checks())
    with pytest.raises(SystemCheckError, match=r"django_sqs\.E004"):
        call_command("check")


def test_manage_py_check_passes_with_the_test_settings(capsys):
    call_command("check")
    assert "no issues" in capsys.readouterr().out


def test_e020_two_registrations_of_one_sqs_queue(settings):
    # register() refuses this (test_registry); a registry filled another way is still checked.
    reports = register("reports", suffixes=("daily",))
    registry._registry["reports__daily"] = RegisteredQueue("reports__daily")
    error = only("django_sqs.E020")
    assert error.obj == "reports__daily"
    assert "reports (suffix 'daily') and reports__daily map to the same SQS queue 'reports__daily'" in error.msg
    assert reports.full_name("daily") == registry.get("reports__daily").full_name()


@pytest.mark.parametrize("value", ["tasks", ["receivers", 5], ["my.tasks"], None])
def test_e021_receiver_modules_must_be_a_list_of_module_names(settings, value):
    settings.SQS_RECEIVER_MODULES = value
    assert ids() == ["django_sqs.E021"]
    assert "SQS_RECEIVER_MODULES" in only("django_sqs.E021").msg


def test_e021_a_list_of_module_names_is_fine(settings):
    settings.SQS_RECEIVER_MODULES = ("receivers", "tasks")
    assert ids() == []
