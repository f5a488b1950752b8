"""The registry of queues, the ``receiver`` decorator, ``register`` and the receiver proxy."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any

from . import naming
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
                    f"Queue {rq.name!r} is already registered (receiver {_label(existing.receiver)}); "
                    f"cannot register {_label(rq.receiver)} for it too."
                )
        self._registry[rq.name] = rq
        if rq.dead_letter_queue:
            self._link_dead_letter_queue(rq)
        return rq

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
            raise UnknownQueue(f"No queue named {name!r} is registered (registered: {known}).") from None

    def __contains__(self, name: str) -> bool:
        return name in self._registry

    def __iter__(self):
        return iter(sorted(self._registry.values(), key=lambda rq: rq.name))

    def with_receivers(self) -> list[RegisteredQueue]:
        return [rq for rq in self if rq.receiver is not None]

    def unregister(self, name: str) -> None:
        self._registry.pop(name, None)


registry = Registry()


def _label(fn: Callable | None) -> str:
    return "none" if fn is None else f"{fn.__module__}.{fn.__qualname__}"


def _same_receiver(a: RegisteredQueue, b: RegisteredQueue) -> bool:
    # The same function registered again (a module imported twice) is not a conflict,
    # nor is declaring a send-only queue twice.
    return _label(a.receiver) == _label(b.receiver)


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


class ReceiverProxy:
    """What ``@receiver`` returns: call it to send; ``.direct`` is the function itself."""

    def __init__(self, fn: Callable[[Message], Any], registered_queue: RegisteredQueue):
        self.direct = fn
        self.registered_queue = registered_queue
        functools.update_wrapper(self, fn)

    def __call__(self, message: Message | None = None, suffix: str | None = None, **kwargs: Any) -> str:
        """Send a message to the queue; returns the SQS message id."""
        return self.registered_queue.send(message, suffix=suffix, **kwargs)

    def send_many(self, messages: Iterable[Any], suffix: str | None = None, **kwargs: Any) -> list[str]:
        return self.registered_queue.send_many(messages, suffix=suffix, **kwargs)

    def send_on_commit(self, message: Message | None = None, suffix: str | None = None, using: str | None = None, **kwargs: Any) -> None:
        from .sending import send_on_commit

        send_on_commit(self.registered_queue.name, message, suffix=suffix, using=using, **kwargs)

    def __repr__(self) -> str:
        return f"<receiver {self.registered_queue.name!r} → {_label(self.direct)}>"


def receiver(
    queue_name: str | Callable | None = None,
    visibility_timeout: int | None = None,
    message_class: type[Message] | None = None,
    delete_on_start: bool = False,
    close_database: bool = False,
    suffixes: Iterable[str] = (),
    *,
    delete_on_error: bool | None = None,
    dead_letter_queue: str | None = None,
    max_receive_count: int | None = None,
):
    """Decorator: make the function the receiver of a queue. Works bare (``@receiver``)."""
    if callable(queue_name):  # used bare: @receiver
        return receiver()(queue_name)

    def decorate(fn: Callable[[Message], Any]) -> ReceiverProxy:
        rq = register(
            queue_name or naming.default_queue_name(fn),
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
        return ReceiverProxy(fn, rq)

    return decorate
