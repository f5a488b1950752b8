"""Looking into SQS queues from the tests, behind django_sqs's back, by full name."""

from __future__ import annotations

import base64
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


def lambda_record(record: dict, arn: str) -> dict:
    """What Lambda hands the function for a message it received (camelCase, base64 binaries)."""
    attrs = {}
    for name, value in (record.get("MessageAttributes") or {}).items():
        attrs[name] = {
            "stringValue": value.get("StringValue"),
            "binaryValue": base64.b64encode(value["BinaryValue"]).decode() if "BinaryValue" in value else None,
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": value["DataType"],
        }
    return {
        "messageId": record["MessageId"],
        "receiptHandle": record["ReceiptHandle"],
        "body": record["Body"],
        "attributes": record.get("Attributes", {}),
        "messageAttributes": attrs,
        "md5OfBody": record["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": arn,
        "awsRegion": "us-east-1",
    }


def event_of(*full_names: str) -> dict:
    """Every visible message of the queues (now in flight for 60 s), as one Lambda event."""
    records = []
    for full_name in full_names:
        arn = attributes(full_name)["QueueArn"]
        records += [lambda_record(r, arn) for r in drain(full_name)]
    return {"Records": records}
