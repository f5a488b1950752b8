"""The project's receivers in an SQS-triggered AWS Lambda function.

Point the function's handler at ``django_sqs.aws_lambda.handler`` (with
``DJANGO_SETTINGS_MODULE`` in its environment), or make one for other settings::

    # lambda_function.py
    from django_sqs.aws_lambda import make_handler
    handler = make_handler(settings_module="mysite.settings_lambda")

Django is set up once per cold start. Each record of the event goes to the receiver of
its queue (the last ``:`` segment of ``eventSourceARN``, a full SQS name: prefix, name,
suffix), as the same message class and with the same outcome rules as ``runreceiver``
(``handling.run_receiver``). The answer is a partial batch response: only the records
listed in ``batchItemFailures`` come back to the queue, so the event source mapping
must have ``FunctionResponseTypes=["ReportBatchItemFailures"]``; Lambda deletes the rest.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import time
from typing import Any

import django
from django.apps import apps
from django.conf import ENVIRONMENT_VARIABLE
from django.core.exceptions import ImproperlyConfigured
from django.db import close_old_connections, connections

from . import provisioning, receipts, signals, tracing
from .dead_letters import queue_of
from .exceptions import SQSError, UnknownQueue
from .handling import Outcome, decode_message, run_receiver
from .message import Message
from .registered_queue import RegisteredQueue

logger = logging.getLogger("django_sqs.aws_lambda")

# Lambda's camelCase message attribute fields → ReceiveMessage's, which Message.from_sqs reads.
_ATTRIBUTE_FIELDS = {
    "dataType": "DataType",
    "stringValue": "StringValue",
    "binaryValue": "BinaryValue",
    "stringListValues": "StringListValues",
    "binaryListValues": "BinaryListValues",
}


def _message_attribute(value: dict) -> dict:
    out: dict[str, Any] = {}
    for field, name in _ATTRIBUTE_FIELDS.items():
        item = value.get(field)
        if item is None or item == []:  # Lambda sends empty lists; ReceiveMessage omits them
            continue
        # Lambda gives binary values base64-encoded; boto3 gives bytes.
        if field == "binaryValue":
            item = base64.b64decode(item)
        elif field == "binaryListValues":
            item = [base64.b64decode(v) for v in item]
        out[name] = item
    return out


def receive_record(record: dict) -> dict:
    """A Lambda SQS record in the shape of a ReceiveMessage record."""
    return {
        "MessageId": record.get("messageId"),
        "ReceiptHandle": record.get("receiptHandle"),
        "Body": record.get("body", ""),
        "MD5OfBody": record.get("md5OfBody"),
        "Attributes": dict(record.get("attributes") or {}),
        "MessageAttributes": {
            name: _message_attribute(value or {}) for name, value in (record.get("messageAttributes") or {}).items()
        },
    }


def queue_name_of(record: dict) -> str:
    """The full SQS name of the record's queue: the last segment of its ARN."""
    return (record.get("eventSourceARN") or "").rpartition(":")[2]


class LambdaHandler:
    """``handler(event, context)`` → ``{"batchItemFailures": [...]}``; see the module."""

    def __init__(self, settings_module: str | None = None):
        self.settings_module = settings_module
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- once per cold start ----------------------------------------------------------
    def setup(self) -> None:
        if self._loop is not None:
            return
        if self.settings_module:
            current = os.environ.get(ENVIRONMENT_VARIABLE)
            if apps.ready and current != self.settings_module:
                raise ImproperlyConfigured(
                    f"Django is already set up with {current!r}; this handler "
                    f"was made for {self.settings_module!r}."
                )
            os.environ[ENVIRONMENT_VARIABLE] = self.settings_module
        if not apps.ready:
            django.setup()
        # One event loop for the life of the execution environment: async receivers (and
        # the async clients they keep) see the same loop on every invocation.
        self._loop = asyncio.new_event_loop()

    # -- per invocation ---------------------------------------------------------------
    def __call__(self, event: dict, context: Any = None) -> dict:
        self.setup()
        failures: list[str] = []
        blocked: set[tuple[str, str]] = set()  # (queue, FIFO group) after a failure
        for record in event.get("Records") or []:
            msg_id = record.get("messageId", "")
            queue = queue_name_of(record)
            group = (record.get("attributes") or {}).get("MessageGroupId")
            if group is not None and (queue, group) in blocked:
                # A later message of the group must not overtake the one that failed.
                logger.info("not run, an earlier message of its group failed queue=%s id=%s group=%s", queue, msg_id, group)
                failures.append(msg_id)
                continue
            try:
                done = self.handle_record(record, queue)
            except Exception:  # a bug of ours must not cost the other records their turn
                logger.exception("record failed queue=%s id=%s", queue, msg_id)
                done = False
            if not done:
                failures.append(msg_id)
                if group is not None:
                    blocked.add((queue, group))
        return {"batchItemFailures": [{"itemIdentifier": msg_id} for msg_id in failures]}

    def handle_record(self, record: dict, full_name: str) -> bool:
        """Run the record's receiver; True when Lambda may delete the record."""
        msg_id = record.get("messageId", "")
        try:
            rq, suffix = queue_of(full_name)
        except UnknownQueue:
            logger.error(
                "no registered queue for this record, reported failed queue=%s id=%s source=%s",
                full_name or "-", msg_id, record.get("eventSourceARN"),
            )
            return False
        if rq.receiver is None:
            logger.error("queue has no receiver, reported failed queue=%s id=%s", full_name, msg_id)
            return False
        message = decode_message(rq, receive_record(record), full_name)
        close_old_connections()  # as Django does before a request
        try:
            return self.run(rq, suffix, message)
        finally:
            if rq.close_database:
                connections.close_all()
            else:
                close_old_connections()

    def run(self, rq: RegisteredQueue, suffix: str | None, message: Message) -> bool:
        signals.emit(
            signals.message_received, LambdaHandler, queue=message.queue_name, message_id=message.id,
            receive_count=message.receive_count, sent_at=message.sent_at,
        )
        started = time.monotonic()
        outcome = Outcome(delete=False, reason="error")
        try:
            if rq.delete_on_start and not self.request("DeleteMessageBatch", rq, suffix, message):
                # At most once: the receiver runs only once the message is gone from the
                # queue. It is not: report it failed, it comes back and is tried again.
                logger.error(
                    "delete before start failed, not running it (delete_on_start) queue=%s id=%s",
                    message.queue_name, message.id,
                )
                outcome = Outcome(delete=False, reason="not deleted first")
                return False
            with tracing.consumer_span(message):
                outcome = run_receiver(rq, message, await_with=self._loop.run_until_complete)
            if rq.delete_on_start:
                return True
            if outcome.delete and outcome.reason != "ok":
                # delete_on_error: Lambda deletes the record; its body survives in the log only.
                logger.error("deleted after failure queue=%s id=%s body=%r", message.queue_name, message.id, message.raw_body)
            elif outcome.delay is not None:
                self.request("ChangeMessageVisibilityBatch", rq, suffix, message, VisibilityTimeout=outcome.delay)
            return outcome.delete
        finally:
            signals.emit(
                signals.message_handled, LambdaHandler, queue=message.queue_name, message_id=message.id,
                outcome=outcome.reason, duration=time.monotonic() - started, receive_count=message.receive_count,
            )

    def request(self, action: str, rq: RegisteredQueue, suffix: str | None, message: Message, **extra: int) -> bool:
        """``action`` on the record by its receipt handle; a failure is logged, not raised
        (the record then comes back when its visibility timeout runs out)."""
        try:
            ok, refused = receipts.batch_request(action, provisioning.queue_url(rq, suffix), message.queue_name, [message.receipt_handle], **extra)
        except SQSError as exc:
            refused = [(0, getattr(exc, "code", "") or "error", str(exc))]
        for _, code, text in refused:
            logger.warning("%s failed queue=%s id=%s code=%s %s", action, message.queue_name, message.id, code, text)
        return not refused


def make_handler(settings_module: str | None = None) -> LambdaHandler:
    """A Lambda handler that sets Django up with ``settings_module`` (default: the
    ``DJANGO_SETTINGS_MODULE`` environment variable) on its first invocation."""
    return LambdaHandler(settings_module)


#: The handler for functions whose environment sets ``DJANGO_SETTINGS_MODULE``.
handler = make_handler()
