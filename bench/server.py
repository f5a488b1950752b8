"""The benchmarks' SQS server: django_sqs's local server (moto) with moto's depth scans
patched out, counting requests by queue and action.

Run as ``python -m bench.server --port 0`` (``BenchServer`` does it). Only this process
is patched; the test suite and the demo use moto unchanged.

Why patch: moto keeps a queue's messages in one list and, for every message it sends or
hands out, walks that whole list, often several times (it computes all queue attributes,
approximate counts included, to read one of them; it rebuilds the list on every delete).
At a 2,000-message backlog that costs ~50 ms per receive on this machine and turns a drain
into a measurement of moto (100 s for what takes 3 s with the patches). The patches keep
moto's behaviour and make those paths cost what SQS's do: independent of queue depth.

1. ``Queue.attributes`` is a mapping computed per key on access, not all keys (three
   full scans for the approximate counts) on every ``attributes.get(...)``.
2. ``Queue.messages`` (visible, not delayed) is a lazy view: ``receive_message`` stops
   scanning once it has its 10; ``len()`` and ``bool()`` still work.
3. ``is_message_valid_based_on_retention_period`` reads the retention period directly
   (it computed every queue attribute three times per received message).
4. ``Queue.delete_message`` finds the message and removes it (under the queue's lock),
   instead of two full scans and a rebuild of the list per deleted message.

Extra endpoints (not counted):

- ``GET /__bench__/stats[?visible=1]``: ``{"counts": {queue: {action: n}}, "first": {queue:
  {action: t}}, "last": {queue: {action: t}}, "depth": {queue: {"total": n[, "visible": n]}}}``;
  requests are counted when they arrive; times are ``time.time()`` when the first request
  of its kind arrived (first) and when the latest was answered (last). With
  ``arrivals=Q1,Q2``: also ``"arrivals": {queue: [t, ...]}``, when each request came;
  with ``receives=Q1,Q2``: ``"receives": {queue: [t, ...]}``, the ReceiveMessage requests only.
- ``GET /__bench__/depth?queue=NAME``: ``{"total": n}``, the messages in one queue.
- ``POST /__bench__/reset``: counts and times back to zero.
- ``POST /__bench__/hold?queue=NAME`` / ``/__bench__/release?queue=NAME``: while a queue
  is held, ReceiveMessage on it waits (as an empty long poll) until it is released, so a
  worker can be started and settled before the backlog it drains is handed out.
"""

from __future__ import annotations

import io
import json
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping
from urllib.parse import parse_qs

from django_sqs import localserver
from django_sqs.localserver import LocalSQSServer

BENCH_PATH = "/__bench__/"
PATCH_NOTE = (
    "moto's per-message queue-depth scans patched out in the benchmark's server process "
    "(bench/server.py): queue attributes computed per key, a lazy visible-message view, "
    "O(1) retention check, delete without rebuilding the message list"
)

_held: dict[str, threading.Event] = {}
_held_lock = threading.Lock()


# -- moto patches ---------------------------------------------------------------------
def patch_moto() -> None:
    import moto.sqs.models as models
    camelcase_to_underscores = models.camelcase_to_underscores

    Queue = models.Queue
    SQSBackend = models.SQSBackend

    class LazyAttributes(Mapping):
        """What ``Queue.attributes`` returned, each value computed when read."""

        def __init__(self, queue):
            self.queue = queue
            keys = list(Queue.BASE_ATTRIBUTES)
            if queue.fifo_queue:
                keys += Queue.FIFO_ATTRIBUTES
            if queue.kms_master_key_id:
                keys += Queue.KMS_ATTRIBUTES
            if queue.policy:
                keys.append("Policy")
            if queue.redrive_policy:
                keys.append("RedrivePolicy")
            self.keys_ = list(dict.fromkeys(keys))

        def __getitem__(self, key):
            if key not in self.keys_:
                raise KeyError(key)
            q = self.queue
            if key == "Policy" and q.policy:
                value = q.policy
            elif key == "RedrivePolicy" and q.redrive_policy:
                value = json.dumps(q.redrive_policy)
            else:
                value = getattr(q, camelcase_to_underscores(key))
            return str(value).lower() if isinstance(value, bool) else value

        def __iter__(self) -> Iterator[str]:
            return iter(self.keys_)

        def __len__(self) -> int:
            return len(self.keys_)

    class VisibleMessages:
        """The visible, undelayed messages, found while iterating (stops when you stop)."""

        def __init__(self, queue):
            self.messages = queue._messages

        def __iter__(self):
            for message in self.messages:
                if message.visible and not message.delayed:
                    yield message

        def __len__(self) -> int:
            return sum(1 for _ in self)

        def __bool__(self) -> bool:
            return any(True for _ in self)

    def delete_message(self, receipt_handle: str) -> None:
        if receipt_handle in self.deleted_messages:
            return
        with self._messages_lock:
            messages = self._messages
            for index, message in enumerate(messages):
                if message.receipt_handle == receipt_handle or receipt_handle in message._old_receipt_handles:
                    self.pending_messages.discard(message)
                    self.deleted_messages.update(message.all_receipt_handles)
                    # A new list, as moto does: a receive iterating the old one is unaffected.
                    self._messages = messages[:index] + messages[index + 1 :]
                    return
        raise models.ReceiptHandleIsInvalid()

    def is_message_valid_based_on_retention_period(self, queue_name: str, message) -> bool:
        retention = int(self.get_queue(queue_name).message_retention_period)
        return retention + message.sent_timestamp / 1000 > models.unix_time()

    original_receive = SQSBackend.receive_message

    def receive_message(self, queue_name, count, wait_seconds_timeout, visibility_timeout, message_attribute_names=None):
        with _held_lock:
            gate = _held.get(queue_name)
        if gate is not None and not gate.wait(wait_seconds_timeout):
            return []  # still held: an empty long poll
        return original_receive(self, queue_name, count, wait_seconds_timeout, visibility_timeout, message_attribute_names)

    Queue.attributes = property(LazyAttributes)
    Queue.messages = property(VisibleMessages)
    Queue.delete_message = delete_message
    SQSBackend.is_message_valid_based_on_retention_period = is_message_valid_based_on_retention_period
    SQSBackend.receive_message = receive_message


def _queues() -> dict:
    from moto.sqs.models import sqs_backends

    found = {}
    for account in list(sqs_backends.keys()):
        for region in list(sqs_backends[account].keys()):
            for name, queue in list(sqs_backends[account][region].queues.items()):
                found[name] = queue
    return found


# -- counting -------------------------------------------------------------------------
class BenchMiddleware(localserver.CountingMiddleware):
    """Counts by queue and action (and by action, as the parent does); bench endpoints."""

    def __init__(self, app):
        super().__init__(app)
        self.by_queue: defaultdict[str, Counter] = defaultdict(Counter)
        self.first: defaultdict[str, dict] = defaultdict(dict)
        self.last: defaultdict[str, dict] = defaultdict(dict)
        self.arrivals: defaultdict[str, list] = defaultdict(list)
        self.receives: defaultdict[str, list] = defaultdict(list)

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path.startswith(BENCH_PATH):
            return self.bench(path[len(BENCH_PATH) :], environ, start_response)
        if path == localserver.COUNTS_PATH:
            return super().__call__(environ, start_response)
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        action = target.rpartition(".")[2] if target else localserver._query_action(environ.get("QUERY_STRING", ""))
        queue = self.queue_of(environ)
        with self.lock:  # counted when it arrives: a held long poll is seen at once
            now = time.time()
            self.by_queue[queue][action] += 1
            self.first[queue].setdefault(action, now)
            self.arrivals[queue].append(now)
            if action == "ReceiveMessage":
                self.receives[queue].append(now)
        result = super().__call__(environ, start_response)
        body = b"".join(result)  # moto answers in one piece; done now, not when written
        if hasattr(result, "close"):
            result.close()
        with self.lock:
            self.last[queue][action] = time.time()
        return [body]

    @staticmethod
    def queue_of(environ) -> str:
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        raw = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(raw)
        params: dict = {}
        try:
            params = json.loads(raw) if raw.startswith(b"{") else {k: v[0] for k, v in parse_qs(raw.decode()).items()}
        except ValueError:
            pass
        name = params.get("QueueName") or (params.get("QueueUrl") or "").rpartition("/")[2] or params.get("QueueNamePrefix")
        return name or "-"

    def bench(self, what: str, environ, start_response):
        query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        if what == "stats":
            with self.lock:
                data = {
                    "counts": {q: dict(c) for q, c in self.by_queue.items()},
                    "first": {q: dict(t) for q, t in self.first.items()},
                    "last": {q: dict(t) for q, t in self.last.items()},
                    "arrivals": {q: list(self.arrivals[q]) for q in query.get("arrivals", "").split(",") if q},
                    "receives": {q: list(self.receives[q]) for q in query.get("receives", "").split(",") if q},
                }
            # Only the total by default: counting the visible ones walks the queue.
            data["depth"] = {
                name: {"total": len(q._messages), **({"visible": len(q.messages)} if "visible" in query else {})}
                for name, q in _queues().items()
            }
            data["held"] = sorted(_held)
        elif what == "depth":
            queue = _queues().get(query.get("queue", ""))
            data = {"total": len(queue._messages) if queue is not None else 0}
        elif what == "reset":
            with self.lock:
                self.by_queue.clear()
                self.first.clear()
                self.last.clear()
                self.arrivals.clear()
                self.receives.clear()
                self.counts.clear()
            data = {}
        elif what == "hold":
            with _held_lock:
                _held.setdefault(query["queue"], threading.Event())
            data = {}
        elif what == "release":
            with _held_lock:
                gate = _held.pop(query.get("queue", ""), None)
            if gate is not None:
                gate.set()
            data = {}
        else:
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"unknown bench endpoint"]
        body = json.dumps(data).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]


class BenchServer(LocalSQSServer):
    """``LocalSQSServer`` running this module; with the bench endpoints as methods."""

    module = "bench.server"

    def _call(self, what: str, method: str = "GET", **query) -> dict:
        import urllib.parse
        import urllib.request

        url = self.url + BENCH_PATH + what + ("?" + urllib.parse.urlencode(query) if query else "")
        request = urllib.request.Request(url, data=b"" if method == "POST" else None, method=method)
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def stats(self, visible: bool = False, arrivals: tuple[str, ...] = (), receives: tuple[str, ...] = ()) -> dict:
        query = {"visible": "1"} if visible else {}
        if arrivals:
            query["arrivals"] = ",".join(arrivals)
        if receives:
            query["receives"] = ",".join(receives)
        return self._call("stats", **query)

    def depth(self, queue: str) -> int:
        """Messages in the queue (visible or not): cheaper than ``stats()`` to poll."""
        return self._call("depth", queue=queue)["total"]

    def reset(self) -> None:
        self._call("reset", "POST")

    def hold(self, queue: str) -> None:
        self._call("hold", "POST", queue=queue)

    def release(self, queue: str) -> None:
        self._call("release", "POST", queue=queue)


def main() -> None:
    patch_moto()
    localserver.CountingMiddleware = BenchMiddleware  # serve() builds it by this name
    localserver.main()


if __name__ == "__main__":
    main()
