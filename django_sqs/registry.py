"""The registry of queues and ``register``. The ``receiver`` decorator and the proxy it
returns (which sends) are in ``proxy``, a layer above sending."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from . import naming
from .conf import settings
from .exceptions import ConfigurationError, UnknownQueue
from .message import Message
from .registered_queue import RegisteredQueue


class Registry:
    """Queue name → ``RegisteredQueue``. ``_registry`` is what autodiscovery rolls back."""

    def __init__(self) -> None:
        self._registry: dict[str, RegisteredQueue] = {}

    def add(self, rq: RegisteredQueue) -> RegisteredQueue:
        existing = self._registry.get(rq.name)
        if existing is not None and not _same_receiver(existing, rq):
            if existing.dead_letter_queue_of and existing.receiver is None:
                rq.dead_letter_queue_of = existing.dead_letter_queue_of
                # It serves the suffixed queues of the queue it was declared by.
                rq.suffixes = tuple(dict.fromkeys((*rq.suffixes, *existing.suffixes)))
            else:
                raise ConfigurationError(
                    f"Queue {rq.name!r} is already registered (receiver {label(existing.receiver)}); "
                    f"cannot register {label(rq.receiver)} for it too."
                )
        before, clashing = dict(self._registry), dict(self.clashes())
        links = {q.name: (q.suffixes, q.dead_letter_queue_of) for q in before.values()}
        self._registry[rq.name] = rq
        if rq.dead_letter_queue:
            self._link_dead_letter_queue(rq)
        new = [(name, labels) for name, labels in self.clashes() if name not in clashing]
        if new:
            # Undo: the dead-letter link may have changed another queue's suffixes too.
            self._registry = before
            for q in before.values():
                q.suffixes, q.dead_letter_queue_of = links[q.name]
            raise ConfigurationError(describe_clash(*new[0]))
        return rq

    def clashes(self) -> list[tuple[str, list[str]]]:
        """``(SQS name, [registered names])`` for each SQS queue that two registrations map
        to (``"reports"`` with suffix ``"daily"`` and ``"reports__daily"``): one queue
        would feed two receivers. Compared without the prefix, which all names share."""
        owners: dict[str, list[str]] = {}
        for rq in self._registry.values():
            for suffix in (None, *rq.suffixes):
                owner = rq.name if suffix is None else f"{rq.name} (suffix {suffix!r})"
                owners.setdefault(naming.build_full_name("", rq.name, suffix), []).append(owner)
        return [(name, labels) for name, labels in sorted(owners.items()) if len(labels) > 1]

    def _link_dead_letter_queue(self, rq: RegisteredQueue) -> None:
        dlq = self._registry.get(rq.dead_letter_queue)
        if dlq is None:
            # Declared by name only: register it so it can be created, sent to and shown.
            dlq = RegisteredQueue(
                rq.dead_letter_queue,
                message_class=rq.message_class,
                visibility_timeout=rq.visibility_timeout,
                suffixes=rq.suffixes,
            )
            self._registry[dlq.name] = dlq
        else:
            dlq.suffixes = tuple(dict.fromkeys((*dlq.suffixes, *rq.suffixes)))
        dlq.dead_letter_queue_of = rq.name

    def get(self, name: str) -> RegisteredQueue:
        try:
            return self._registry[name]
        except KeyError:
            known = ", ".join(sorted(self._registry)) or "none"
            raise UnknownQueue(
                f"No queue named {name!r} is registered (registered: {known}). Declare it with "
                f"@receiver({name!r}) on its receiver, or, for a queue this project only sends to "
                f"(its receiver lives elsewhere), with django_sqs.register({name!r}) in a receivers module."
            ) from None

    def find_full_name(self, full_name: str) -> tuple[RegisteredQueue, str | None] | None:
        """The registered queue and suffix whose full SQS name (prefix, name, suffix) is
        ``full_name``, or None: tables and logs print full names, commands accept them."""
        prefix = settings.SQS_QUEUE_PREFIX
        if not isinstance(prefix, str):
            return None  # reported by the system checks (E001)
        for rq in self._registry.values():
            for suffix in (None, *rq.suffixes):
                if naming.build_full_name(prefix, rq.name, suffix) == full_name:
                    return rq, suffix
        return None

    def __contains__(self, name: str) -> bool:
        return name in self._registry

    def __iter__(self):
        return iter(sorted(self._registry.values(), key=lambda rq: rq.name))

    def with_receivers(self) -> list[RegisteredQueue]:
        return [rq for rq in self if rq.receiver is not None]

    def unregister(self, name: str) -> None:
        self._registry.pop(name, None)


registry = Registry()


def describe_clash(sqs_name: str, labels: list[str]) -> str:
    return (
        f"{' and '.join(labels)} map to the same SQS queue {sqs_name!r} (after the prefix): "
        "rename one of them or drop the suffix."
    )


def label(fn: Callable | None) -> str:
    return "none" if fn is None else f"{fn.__module__}.{fn.__qualname__}"


def _same_receiver(a: RegisteredQueue, b: RegisteredQueue) -> bool:
    # The same function registered again (a module imported twice) is not a conflict,
    # nor is declaring a send-only queue twice.
    return label(a.receiver) == label(b.receiver)


def register(
    queue_name: str,
    fn: Callable[[Message], Any] | None = None,
    visibility_timeout: int | None = None,
    message_class: type[Message] | None = None,
    delete_on_start: bool = False,
    close_database: bool = False,
    suffixes: Iterable[str] = (),
    *,
    delete_on_error: bool | None = None,
    dead_letter_queue: str | None = None,
    max_receive_count: int | None = None,
) -> RegisteredQueue:
    """Register ``queue_name`` with ``fn`` as its receiver (or none: send-only)."""
    rq = RegisteredQueue(
        queue_name,
        fn,
        visibility_timeout=visibility_timeout,
        message_class=message_class,
        delete_on_start=delete_on_start,
        close_database=close_database,
        suffixes=suffixes,
        delete_on_error=delete_on_error,
        dead_letter_queue=dead_letter_queue,
        max_receive_count=max_receive_count,
    )
    return registry.add(rq)
