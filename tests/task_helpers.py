"""Helpers for the tasks backend's tests: backend settings, the framework's logger, queues."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command

from django_sqs import provisioning
from django_sqs.registry import registry
from django_sqs.tasks import compat
from tests import tasks

STORE = "django_sqs.tasks.results.DatabaseResultStore"
DEFAULT = "tasks__default__default"
QUEUES = ["default", "emails", "orders.fifo"]
#: The logger the framework's own signal receivers write to.
FRAMEWORK_LOGGER = "django.tasks" if compat.FRAMEWORK == "django.tasks" else "django_tasks"


def use_backend(settings, *, queues=QUEUES, store=True, **options) -> None:
    """Configure TASKS["default"] as an SQSBackend with these OPTIONS."""
    if store:
        options.setdefault("RESULT_STORE", STORE)
    settings.TASKS = {"default": {"BACKEND": "django_sqs.tasks.SQSBackend", "QUEUES": queues, "OPTIONS": options}}


def options_env(**options) -> dict:
    """Environment that gives a worker subprocess the same OPTIONS (tests/settings.py)."""
    return {"DJANGO_SQS_TEST_TASK_OPTIONS": json.dumps(options)}


def messages(sqs, name: str, suffix=None, wait=0) -> list[dict]:
    """Receive (and leave hidden for 30 s) every visible message of a task queue."""
    url = provisioning.queue_url(registry.get(name), suffix)
    found = []
    while True:
        got = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=wait, VisibilityTimeout=30,
            MessageSystemAttributeNames=["All"],
        ).get("Messages", [])
        if not got:
            return found
        found += got


def counts(sqs, name: str, suffix=None) -> dict[str, int]:
    url = provisioning.queue_url(registry.get(name), suffix)
    a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return {
        "visible": int(a["ApproximateNumberOfMessages"]),
        "in_flight": int(a["ApproximateNumberOfMessagesNotVisible"]),
        "delayed": int(a["ApproximateNumberOfMessagesDelayed"]),
    }


def bodies(sqs, name: str, suffix=None) -> list[dict]:
    return [json.loads(m["Body"]) for m in messages(sqs, name, suffix)]


@pytest.fixture
def fresh_runs():
    """``tests.tasks.runs`` empty before and after the test (``usefixtures("fresh_runs")``)."""
    tasks.runs.clear()
    yield
    tasks.runs.clear()


def work(name: str = DEFAULT, *args: str) -> None:
    """Run the worker in this process until the queue is drained."""
    call_command("runreceiver", name, "--burst", *args)
