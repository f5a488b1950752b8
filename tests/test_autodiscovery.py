"""Autodiscovery imports the receivers module of every installed app, at start-up, and
rolls the registry back when one fails to import."""

import sys

import pytest
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command
from django.test import override_settings

from django_sqs.autodiscovery import autodiscover
from django_sqs.registry import registry


@pytest.fixture(autouse=True)
def forget_test_apps():
    """Each test imports the apps' receivers modules afresh."""
    yield
    for name in ("tests.discovery_ok.receivers", "tests.discovery_broken.receivers"):
        sys.modules.pop(name, None)


def test_receivers_of_the_test_app_were_discovered_at_start_up():
    assert "tests.receivers" in sys.modules
    assert {"echo", "jobs", "photos", "tests__receivers__bare"} <= {rq.name for rq in registry}


def test_installing_an_app_imports_its_receivers_module():
    assert "discovered" not in registry
    with override_settings(INSTALLED_APPS=[*django_settings.INSTALLED_APPS, "tests.discovery_ok"]):
        # Django's app registry ran every ready() again: ours autodiscovered.
        assert "tests.discovery_ok.receivers" in sys.modules
        assert registry.get("discovered").receiver is not None
        assert registry.get("discovered_send_only").receiver is None


def test_autodiscover_is_idempotent():
    with override_settings(INSTALLED_APPS=[*django_settings.INSTALLED_APPS, "tests.discovery_ok"]):
        before = {rq.name: rq for rq in registry}
        autodiscover()
        assert {rq.name: rq for rq in registry} == before


def test_a_failing_receivers_module_is_rolled_back_and_raised():
    before = dict(registry._registry)
    with pytest.raises(RuntimeError, match="broken receivers module"):
        with override_settings(INSTALLED_APPS=[*django_settings.INSTALLED_APPS, "tests.discovery_broken"]):
            pass  # pragma: no cover
    assert "half_registered" not in registry
    assert registry._registry == before


def test_rollback_keeps_what_other_apps_registered():
    base = list(django_settings.INSTALLED_APPS)
    with override_settings(INSTALLED_APPS=[*base, "tests.discovery_ok"]):
        with pytest.raises(RuntimeError):
            with override_settings(INSTALLED_APPS=[*base, "tests.discovery_ok", "tests.discovery_broken"]):
                pass  # pragma: no cover
        assert "discovered" in registry
        assert "half_registered" not in registry


def test_apps_without_receivers_module_are_skipped():
    # django.contrib.auth has no receivers module: no error, nothing registered for it.
    autodiscover()
    assert not [rq for rq in registry if rq.receiver and rq.receiver.__module__.startswith("django.")]


def test_receiver_modules_setting_names_other_modules():
    base = [*django_settings.INSTALLED_APPS, "tests.discovery_tasks"]
    try:
        with override_settings(INSTALLED_APPS=base):
            assert "found_in_tasks" not in registry  # tasks.py is nobody's business by default
        # (Django re-runs ready() when INSTALLED_APPS changes, before the other overrides apply.)
        with override_settings(SQS_RECEIVER_MODULES=["receivers", "tasks"]), override_settings(INSTALLED_APPS=base):
            assert registry.get("found_in_tasks").receiver is not None
            assert "echo" in registry  # receivers.py is still imported
    finally:
        sys.modules.pop("tests.discovery_tasks.tasks", None)


def test_runreceiver_with_nothing_registered_names_where_it_looked():
    registry._registry = {}
    with pytest.raises(CommandError) as excinfo:
        call_command("runreceiver")
    text = str(excinfo.value)
    assert "No queues are registered with a receiver" in text
    assert "found: tests.receivers" in text  # the modules it imported
    assert "SQS_RECEIVER_MODULES" in text and '["receivers", "tasks"]' in text
    assert "<app>/receivers.py" in text
