"""Workers announce themselves to the dashboard through Django's cache.

Connected to ``django_sqs.signals`` in each worker process (``connect()``, called by the
app when the dashboard is on), so the worker's code knows nothing of the dashboard:

- ``worker_started`` writes a record: host, pid, threads, queues, start time;
- ``queue_polled`` notes the last poll per queue and, at most every ``HEARTBEAT_SECONDS``,
  writes the record again (a heartbeat riding on the polls, which come at least every
  ``SQS_POLL_PERIOD`` seconds);
- ``message_received`` / ``message_handled`` count the messages in hand, the messages
  handled, and the rate per minute over the interval between two records;
- ``worker_stopping`` removes the record.

A record expires after ``EXPIRES_SECONDS`` without a heartbeat (a worker killed with
SIGKILL disappears by itself). The cache must be shared by the web and worker processes
(Redis, Memcached, the database cache): with Django's default per-process LocMemCache the
dashboard sees no workers. A cache that fails is logged and never stops a worker.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time

from django.core.cache import cache

from .. import signals

logger = logging.getLogger("django_sqs")

HEARTBEAT_SECONDS = 15
EXPIRES_SECONDS = 4 * HEARTBEAT_SECONDS
INDEX_KEY = "django_sqs.dashboard.workers"
_lock = threading.Lock()
_state: dict = {}  # this process's record (after a fork, the child starts its own)


def _key(worker_id: str) -> str:
    return f"django_sqs.dashboard.worker.{worker_id}"


def _publish(now: float) -> None:
    # Throughput over the interval since the last record: recent, and no per-message bookkeeping.
    since = now - _state.get("last_published", _state["started_at"])
    _state["per_minute"] = round(60 * _state["handled_since"] / since, 1) if since > 0 else None
    _state["handled_since"] = 0
    record = dict(_state, published_at=now)
    worker_id = record["id"]
    try:
        cache.set(_key(worker_id), record, EXPIRES_SECONDS)
        # The index of worker ids: read, add, write back. Two workers starting at once may
        # lose one another's entry; each heartbeat adds it again, so it heals in seconds.
        index = cache.get(INDEX_KEY) or {}
        if index.get(worker_id, 0) < now + EXPIRES_SECONDS - HEARTBEAT_SECONDS:
            index = {w: t for w, t in index.items() if t > now}
            index[worker_id] = now + EXPIRES_SECONDS
            cache.set(INDEX_KEY, index, None)
    except Exception as exc:  # a cache outage must never reach the worker
        logger.warning("dashboard: worker record not published worker=%s error=%r", worker_id, exc)
    _state["last_published"] = now


def on_started(sender, *, queues, pid, threads, **kwargs) -> None:
    now = time.time()
    with _lock:
        _state.clear()
        _state.update(
            id=f"{socket.gethostname()}:{pid}",
            host=socket.gethostname(),
            pid=pid,
            threads=threads,
            queues=list(queues),
            started_at=now,
            last_polls={},
            in_hand=0,
            handled=0,
            handled_since=0,
            per_minute=None,
        )
        _publish(now)


def on_polled(sender, *, queue, ok, **kwargs) -> None:
    now = time.time()
    with _lock:
        if not _state or _state["pid"] != os.getpid():
            return
        _state["last_polls"][queue] = {"at": now, "ok": ok}
        if now - _state.get("last_published", 0) >= HEARTBEAT_SECONDS:
            _publish(now)


def _count(change: int) -> None:
    now = time.time()
    with _lock:
        if not _state or _state["pid"] != os.getpid():
            return
        _state["in_hand"] = max(0, _state["in_hand"] + change)
        if change < 0:
            _state["handled"] += 1
            _state["handled_since"] += 1
        if now - _state.get("last_published", 0) >= HEARTBEAT_SECONDS:
            _publish(now)


def on_received(sender, **kwargs) -> None:
    _count(+1)


def on_handled(sender, **kwargs) -> None:
    _count(-1)


def on_stopping(sender, *, pid, **kwargs) -> None:
    with _lock:
        if not _state:
            return
        worker_id = _state["id"]
        _state.clear()
    try:
        cache.delete(_key(worker_id))
    except Exception as exc:
        logger.warning("dashboard: worker record not removed worker=%s error=%r", worker_id, exc)


def connect() -> None:
    """Publish this process's workers (idempotent: dispatch uids)."""
    for signal, receiver in (
        (signals.worker_started, on_started),
        (signals.queue_polled, on_polled),
        (signals.message_received, on_received),
        (signals.message_handled, on_handled),
        (signals.worker_stopping, on_stopping),
    ):
        signal.connect(receiver, dispatch_uid=f"django_sqs.dashboard.workers.{receiver.__name__}")


def published(full_name: str | None = None) -> list[dict]:
    """The live worker records (those serving ``full_name``, when given), by host and pid."""
    try:
        index = cache.get(INDEX_KEY) or {}
        records = cache.get_many([_key(w) for w in index]).values()
    except Exception as exc:
        logger.warning("dashboard: worker records not read error=%r", exc)
        return []
    found = [r for r in records if _well_formed(r) and (full_name is None or full_name in r["queues"])]
    return sorted(found, key=lambda r: (r["host"], r["pid"]))


def _well_formed(record) -> bool:
    """A record as ``_publish`` writes it. The cache is shared with the whole project (and,
    during a deploy, with workers of another version): anything else found under our keys
    is skipped, so that it cannot break the queue page."""
    def number(value) -> bool:
        return value is None or (isinstance(value, (int, float)) and not isinstance(value, bool))

    if not isinstance(record, dict):
        return False
    queues, polls = record.get("queues"), record.get("last_polls", {})
    return (
        isinstance(record.get("host"), str) and isinstance(record.get("pid"), int)
        and isinstance(queues, list) and all(isinstance(q, str) for q in queues)
        and all(number(record.get(k)) for k in ("started_at", "published_at", "per_minute", "threads",
                                                 "in_hand", "handled"))
        and isinstance(polls, dict)
        and all(isinstance(p, dict) and number(p.get("at")) for p in polls.values())
    )
