"""``SQS_EAGER``: sending runs the receiver at once, in this process, without SQS.

The message is encoded, decoded into a fresh message object and handled through
``handling.run_receiver``, exactly as the worker would. A message the worker would
leave in the queue (``RestartLater``, a failure with ``delete_on_error=False``, a
queue without receiver) is appended to ``kept`` so tests can look at it.
"""

from __future__ import annotations

import time
import uuid

from .handling import decode_message, run_receiver
from .registered_queue import RegisteredQueue

#: ``(full queue name, message)`` of every message an eager send left "in the queue".
kept: list = []


def deliver(rq: RegisteredQueue, full_name: str, entry: dict) -> str:
    msg_id = str(uuid.uuid4())
    record = {
        "MessageId": msg_id,
        "ReceiptHandle": f"eager-{msg_id}",
        "Body": entry["MessageBody"],
        "Attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": str(int(time.time() * 1000)),
            **({"MessageGroupId": entry["MessageGroupId"]} if "MessageGroupId" in entry else {}),
        },
        "MessageAttributes": entry.get("MessageAttributes", {}),
    }
    message = decode_message(rq, record, full_name)
    if rq.receiver is None:
        kept.append((full_name, message))
    elif rq.delete_on_start:
        run_receiver(rq, message)
    elif not run_receiver(rq, message).delete:
        kept.append((full_name, message))
    return msg_id
