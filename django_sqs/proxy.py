"""The ``receiver`` decorator and the ``ReceiverProxy`` it returns: calling the proxy sends.

Above ``sending`` and ``registry``: the registry holds declarations, this module gives
them a sending face.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any

from . import naming, sending
from .message import Message
from .registered_queue import RegisteredQueue
from .registry import label, register

#: Celery's names for "send": what a newcomer from Celery tries first.
_CELERY_NAMES = {"delay", "apply_async", "s", "si", "signature", "apply", "map", "starmap", "chunks"}


class ReceiverProxy:
    """What ``@receiver`` returns: call it to send; ``.direct`` is the function itself."""

    def __init__(self, fn: Callable[[Message], Any], registered_queue: RegisteredQueue):
        self.direct = fn
        self.registered_queue = registered_queue
        functools.update_wrapper(self, fn)

    def __call__(self, message: Message | None = None, suffix: str | None = None, **kwargs: Any) -> str:
        """Send a message to the queue; returns the SQS message id."""
        return sending.send_message(self.registered_queue, message, suffix=suffix, **kwargs)

    def send_many(self, messages: Iterable[Any], suffix: str | None = None, **kwargs: Any) -> list[str]:
        return sending.send_messages(self.registered_queue, messages, suffix=suffix, **kwargs)

    def send_on_commit(self, message: Message | None = None, suffix: str | None = None, using: str | None = None, **kwargs: Any) -> None:
        sending.send_on_commit(self.registered_queue.name, message, suffix=suffix, using=using, **kwargs)

    def __getattr__(self, name: str) -> Any:
        # Only called for attributes that do not exist.
        if name in _CELERY_NAMES:
            raise AttributeError(
                f"{self!r} has no .{name}(): django_sqs receivers are not Celery tasks. Call the "
                f"receiver itself to send: {self.__name__}(body=...) (or .send_many([...]), "
                f".send_on_commit(body=...)); the receiver gets one message, message.get_body().",
                name=name,
                obj=self,
            )
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}", name=name, obj=self)

    def __repr__(self) -> str:
        return f"<receiver {self.registered_queue.name!r} → {label(self.direct)}>"


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
