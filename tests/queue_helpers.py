"""Looking into SQS queues from the tests, behind django_sqs's back, by full name."""

from __future__ import annotations

import io

from django.core.management import call_command

from django_sqs.client import get_client


def url_of(full_name: str) -> str:
    return get_client().get_queue_url(QueueName=full_name)["QueueUrl"]


def attributes(full_name: str) -> dict[str, str]:
    return get_client().get_queue_attributes(QueueUrl=url_of(full_name), AttributeNames=["All"])["Attributes"]


def counts(full_name: str) -> tuple[int, int]:
    """(visible, in flight)."""
    attrs = attributes(full_name)
    return int(attrs["ApproximateNumberOfMessages"]), int(attrs["ApproximateNumberOfMessagesNotVisible"])


def drain(full_name: str) -> list[dict]:
    """Receive every visible message (hidden for 60 s afterwards), in the order SQS gives them."""
    url = url_of(full_name)
    records: list[dict] = []
    while True:
        got = get_client().receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60, WaitTimeSeconds=0,
            MessageSystemAttributeNames=["All"], MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not got:
            return records
        records += got


def run(*args: str) -> str:
    """A management command's standard output."""
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()
