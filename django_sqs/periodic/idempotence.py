"""An opt-in guard for receivers and tasks: run a tick's work once, even when SQS hands
the tick's message out twice (at-least-once delivery, or a tick sent again after a
claimant stalled past its lease)::

    @periodic(cron="0 3 * * *")
    @receiver("reports")
    def nightly(message):
        with once_per_tick(message) as first:
            if first:
                build_the_report()

The key (schedule name and tick) goes into a Django cache with ``cache.add``, which only
one caller wins on a shared cache (Redis, Memcached, the database cache; *not* the
per-process local-memory cache). If the body raises, the key is deleted again, so the
redelivery that follows does the work. ``timeout`` must outlast the redeliveries: the
queue's retention, or at least a few visibility timeouts.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from django.core.cache import caches

from ..message import Tick

DEFAULT_TIMEOUT = 24 * 3600


def tick_of(source: Any) -> Tick | None:
    """The tick of a received message, a task's context, or a tick itself."""
    if source is None or isinstance(source, Tick):
        return source
    return getattr(source, "tick", None)


@contextlib.contextmanager
def once_per_tick(source: Any, *, timeout: int = DEFAULT_TIMEOUT, cache: str = "default") -> Iterator[bool]:
    """Yields True for the first delivery of the tick (and for a message no schedule sent),
    False for a repeat."""
    tick = tick_of(source)
    if tick is None:
        yield True
        return
    store = caches[cache]
    key = f"django_sqs:tick:{tick.schedule}:{tick.at.isoformat()}"
    first = store.add(key, "1", timeout)
    try:
        yield first
    except BaseException:
        if first:
            store.delete(key)
        raise
