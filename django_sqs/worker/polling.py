"""``Poller``: receives from the worker's queues, in priority order, when there is room.

One poller per worker process, whatever ``--threads`` is. A round asks the queues in
rank order and stops at the first that returns messages, so a lower queue is not even
polled while a higher one has a backlog. Only the top queue long-polls, and only when
the previous round found nothing anywhere: idle, a worker makes one long poll per
``SQS_POLL_PERIOD`` plus one short receive per lower queue, and a message sent to the
top queue is picked up as soon as it arrives.

The poller runs in a thread of its own, so a stop never waits for a long poll: the
worker exits and abandons it. SQS may still hand messages to that abandoned request, so a
long poll hides what it receives for ``LONG_POLL_VISIBILITY`` seconds only (the
heartbeat renews messages that are still held): they come back within seconds instead
of a whole visibility timeout. Short receives (a backlog) use the full timeout.
"""

from __future__ import annotations

import logging
import time
import uuid

from .. import queue_urls, signals
from ..client import NONEXISTENT_QUEUE_CODES, get_client, wrap_errors
from ..exceptions import SQSError, SQSRequestError
from .sources import Held, Source

logger = logging.getLogger("django_sqs.worker")

MAX_MESSAGES_PER_RECEIVE = 10
LONG_POLL_VISIBILITY = 2
#: The longest a response can take to come back after SQS handed the messages out: the
#: visibility deadline is counted from the response minus this (a long poll may have
#: waited 20 s before the message arrived; counting from its start would be wrong).
HANDOUT_ALLOWANCE = 0.25


class Poller:
    def __init__(self, sources: list[Source], *, poll_period: int, sender: type):
        self.sources = sources
        self.poll_period = poll_period
        self.sender = sender
        self.idle = False  # the previous round found nothing anywhere
        self.failed: SQSError | None = None  # why the last round could not reach SQS
        self._attempt_ids: dict[Source, str] = {}
        #: True while a long poll is out: a stopping worker may abandon it (what it gets
        #: is hidden for LONG_POLL_VISIBILITY only); a short receive it waits for.
        self.long_polling = False
        self.last_wait = 0

    def round(self, room: int) -> list[Held] | None:
        """Receive up to ``room`` messages from the first queue (by rank) that has any;
        [] when all are empty, None when SQS could not be reached (backoff is the caller's)."""
        wait = self.poll_period if self.idle else 0
        self.last_wait = wait
        for source in self.sources:
            batch = self.receive(source, min(room, MAX_MESSAGES_PER_RECEIVE), wait)
            if batch is None:
                return None
            if batch:
                self.idle = False
                return batch
            wait = 0  # lower queues are checked, not waited on
        self.idle = True
        return []

    def watch(self, source: Source, wanted: int) -> list[Held] | None:
        """A short receive from ``source`` alone (the top queue, while lower ones' messages wait)."""
        batch = self.receive(source, wanted, 0)
        if batch:
            self.idle = False
        return batch

    def receive(self, source: Source, wanted: int, wait: int) -> list[Held] | None:
        long_poll = wait > 0
        vt = min(LONG_POLL_VISIBILITY, source.visibility_timeout) if long_poll else source.visibility_timeout
        params = {
            "MaxNumberOfMessages": wanted,
            "WaitTimeSeconds": wait,
            "VisibilityTimeout": vt,
            "MessageSystemAttributeNames": ["All"],
            "MessageAttributeNames": ["All"],
        }
        if source.fifo:
            # The same id on a retried receive gets the same messages back, instead of
            # hiding their groups for a whole visibility timeout; kept until one works.
            params["ReceiveRequestAttemptId"] = self._attempt_ids.setdefault(source, uuid.uuid4().hex)
        try:
            url = source.url
            sent_at = time.monotonic()
            self.long_polling = long_poll
            try:
                with wrap_errors("ReceiveMessage", source.full_name):
                    response = get_client().receive_message(QueueUrl=url, **params)
            finally:
                self.long_polling = False
        except SQSError as exc:
            if isinstance(exc, SQSRequestError) and exc.code in NONEXISTENT_QUEUE_CODES:
                queue_urls.clear_cache()
                source.forget_url()
            self.failed = exc
            signals.emit(signals.queue_polled, self.sender, queue=source.full_name, received=0, wait=wait, ok=False)
            return None
        self._attempt_ids.pop(source, None)
        answered = time.monotonic()
        handed_out = max(sent_at, answered - HANDOUT_ALLOWANCE)
        records = response.get("Messages", [])
        signals.emit(signals.queue_polled, self.sender, queue=source.full_name, received=len(records), wait=wait, ok=True)
        return [Held(source, r, received_at=handed_out, deadline=handed_out + vt, visibility=vt) for r in records]
