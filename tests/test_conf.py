"""One settings module, read lazily, with the defaults of the spec."""

import os
import subprocess
import sys

import pytest
from django.test import override_settings

from django_sqs.conf import SETTING_NAMES
from django_sqs.conf import settings as sqs_settings

DEFAULTS = {
    "SQS_QUEUE_PREFIX": "",
    "SQS_DEFAULT_VISIBILITY_TIMEOUT": 60,
    "SQS_POLL_PERIOD": 20,
    "AWS_ACCESS_KEY_ID": None,
    "AWS_SECRET_ACCESS_KEY": None,
    "AWS_SESSION_TOKEN": None,
    "SQS_REGION": None,
    "SQS_ENDPOINT_URL": None,
    "SQS_QUEUE_URLS": {},
    "SQS_CREATE_QUEUES": True,
    "SQS_EAGER": False,
    "SQS_STATUS_PUBLIC": False,
    "SQS_RECEIVER_MODULES": ["receivers"],
}


def test_every_setting_has_its_default(settings):
    for name in SETTING_NAMES:
        if hasattr(settings, name):
            delattr(settings, name)
    assert {name: getattr(sqs_settings, name) for name in SETTING_NAMES} == DEFAULTS


@pytest.mark.parametrize(
    "name, value",
    [
        ("SQS_QUEUE_PREFIX", "dev_me"),
        ("SQS_DEFAULT_VISIBILITY_TIMEOUT", 300),
        ("SQS_POLL_PERIOD", 5),
        ("AWS_ACCESS_KEY_ID", "AKIA"),
        ("SQS_REGION", "eu-west-1"),
        ("SQS_ENDPOINT_URL", "http://127.0.0.1:9324"),
        ("SQS_QUEUE_URLS", {"a": "http://x/a"}),
        ("SQS_CREATE_QUEUES", False),
        ("SQS_EAGER", True),
        ("SQS_STATUS_PUBLIC", True),
        ("SQS_RECEIVER_MODULES", ["receivers", "tasks"]),
    ],
)
def test_settings_are_read_on_each_access(name, value):
    with override_settings(**{name: value}):
        assert getattr(sqs_settings, name) == value
    assert getattr(sqs_settings, name) != value


def test_importing_django_sqs_reads_no_settings_and_makes_no_client():
    # Without DJANGO_SETTINGS_MODULE, any settings access at import time would raise.
    code = (
        "import django_sqs, django_sqs.conf, django_sqs.naming, django_sqs.message, "
        "django_sqs.registered_queue, django_sqs.registry, django_sqs.client, django_sqs.queue_urls, "
        "django_sqs.sending, django_sqs.eager, django_sqs.checks, django_sqs.autodiscovery, "
        "django_sqs.exceptions\n"
        "from django_sqs import client\n"
        "assert client._client is None\n"
        "print('ok')\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_django_setup_makes_no_aws_request_and_no_client():
    # ready() only wires: with an endpoint nobody listens on, any request would fail start-up.
    code = (
        "import django\n"
        "django.setup()\n"
        "from django_sqs import client\n"
        "from django_sqs.registry import registry\n"
        "assert 'echo' in registry\n"
        "assert client._client is None\n"
        "print('ok')\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "DJANGO_SQS_TEST_ENDPOINT": "http://127.0.0.1:9"}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
