"""Shared by the dashboard's tests: a small registry of queues on the local SQS server,
users with some of the dashboard's permissions, and poisoned messages."""

from __future__ import annotations

from django.contrib.auth.models import Permission

from django_sqs import register
from django_sqs.client import get_client
from django_sqs.message import JSONMessage
from django_sqs.provisioning import queue_url
from django_sqs.registry import registry
from tests.queue_helpers import url_of

ORDERS, ORDERS_DLQ, AUDIT = "t__orders", "t__orders_dlq", "t__audit"


def handle_order(message):  # never called: the tests poison messages by receiving them raw
    raise ValueError("poisoned")


def only_dashboard_queues() -> None:
    """A registry of three queues (conftest restores the real one after the test), created in SQS."""
    registry._registry = {}
    register("orders", handle_order, message_class=JSONMessage, dead_letter_queue="orders_dlq", max_receive_count=2)
    register("audit", message_class=JSONMessage)
    for name in ("orders", "orders_dlq", "audit"):
        queue_url(registry.get(name))


def poison(bodies: list[str]) -> list[str]:
    """Send ``bodies`` to the orders queue and receive them until SQS moves them to its
    dead-letter queue (maxReceiveCount 2: the third receive moves them); their ids."""
    client = get_client()
    url = url_of(ORDERS)
    ids = [client.send_message(QueueUrl=url, MessageBody=body)["MessageId"] for body in bodies]
    for _ in range(3):
        client.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0)
    return ids


def in_dlq(body: str) -> str:
    """Put a raw body straight into the dead-letter queue; its id."""
    return get_client().send_message(QueueUrl=url_of(ORDERS_DLQ), MessageBody=body)["MessageId"]


def staff(django_user_model, username: str, *actions: str):
    """An active staff user holding the dashboard permissions of ``actions``."""
    from django_sqs.dashboard.models import PERMISSIONS

    user = django_user_model.objects.create_user(username, password="pw", is_staff=True)
    codenames = [PERMISSIONS[a] for a in actions]
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="django_sqs", codename__in=codenames))
    return user
