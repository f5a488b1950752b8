"""Which registered queues a command works on: names or shell-style patterns."""

from __future__ import annotations

import fnmatch

from django.core.management.base import CommandError

from .registered_queue import RegisteredQueue
from .registry import registry


def select_queues(patterns: list[str], *, receivers_only: bool = False, keep_order: bool = False) -> list[RegisteredQueue]:
    """The registered queues matching ``patterns`` (all of them when empty), in name order,
    or in the order the patterns name them with ``keep_order`` (``runreceiver --priority``).

    A name or pattern that matches nothing is a ``CommandError`` listing what exists.
    """
    candidates = registry.with_receivers() if receivers_only else list(registry)
    if not patterns:
        if not candidates:
            raise CommandError("No queues are registered" + (" with a receiver." if receivers_only else "."))
        return candidates
    chosen: dict[str, RegisteredQueue] = {}
    for pattern in patterns:
        matched = sorted((rq for rq in candidates if fnmatch.fnmatchcase(rq.name, pattern)), key=lambda rq: rq.name)
        if not matched:
            known = ", ".join(rq.name for rq in candidates) or "none"
            what = "registered queue with a receiver" if receivers_only else "registered queue"
            raise CommandError(f"No {what} matches {pattern!r} (known: {known}).")
        for rq in matched:
            chosen[rq.name] = rq
    if keep_order:
        return list(chosen.values())
    return sorted(chosen.values(), key=lambda rq: rq.name)
