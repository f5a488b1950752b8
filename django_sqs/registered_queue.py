"""``RegisteredQueue``: one declared queue, its receiver and its options.

A declaration only: it knows its names and attributes, and nothing about SQS. Sending
(``sending.send_message(rq, ...)``) and provisioning (``provisioning.queue_url(rq, suffix)``)
act on it from the layers above.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Iterable
from typing import Any

from . import naming
from .conf import MAX_VISIBILITY_TIMEOUT, settings
from .exceptions import ConfigurationError, InvalidQueueName, UnknownSuffix
from .message import Message


def _check_receiver(where: str, fn: Any) -> None:
    """A receiver is called with the message and returns (or is awaited): refuse what
    would be called and silently do nothing (a generator's body never runs)."""
    if not callable(fn):
        raise ConfigurationError(f"{where}: the receiver {fn!r} is not callable.")
    target = getattr(fn, "__func__", fn)
    if inspect.isgeneratorfunction(target) or inspect.isasyncgenfunction(target):
        raise ConfigurationError(
            f"{where}: the receiver {getattr(fn, '__qualname__', fn)!r} is a generator function; its body would "
            "never run. A receiver is a plain function or an async def coroutine function."
        )


class RegisteredQueue:
    """A queue as the project declared it.

    ``name`` is the name as registered; ``full_name(suffix)`` is the SQS queue name.
    """

    def __init__(
        self,
        name: str,
        receiver: Callable[[Message], Any] | None = None,
        *,
        visibility_timeout: int | None = None,
        message_class: type[Message] | None = None,
        delete_on_start: bool = False,
        close_database: bool = False,
        suffixes: Iterable[str] = (),
        delete_on_error: bool | None = None,
        dead_letter_queue: str | None = None,
        max_receive_count: int | None = None,
    ):
        if isinstance(suffixes, str):
            suffixes = (suffixes,)
        self.name = name
        self.receiver = receiver
        self.visibility_timeout = visibility_timeout
        self.message_class = message_class or Message
        self.delete_on_start = delete_on_start
        self.close_database = close_database
        self.suffixes = tuple(suffixes)
        self.dead_letter_queue = dead_letter_queue
        self.max_receive_count = max_receive_count
        #: The queue whose dead-letter queue this is, if any (set by the registry).
        self.dead_letter_queue_of: str | None = None
        #: Suffixes (None: the queue itself) one worker serves in strict order, highest
        #: first; set by the tasks backend for priority levels (SPEC §10 ``--priority``).
        self.priority_suffixes: tuple[str | None, ...] | None = None
        self._delete_on_error = delete_on_error
        self._check_options()

    def _check_options(self) -> None:
        where = f"queue {self.name!r}"
        if not isinstance(self.name, str):
            raise InvalidQueueName(f"Queue name {self.name!r} is invalid: it is a {type(self.name).__name__}, not a string.")
        vt = self.visibility_timeout
        if vt is not None and (not isinstance(vt, int) or isinstance(vt, bool) or not 0 <= vt <= MAX_VISIBILITY_TIMEOUT):
            raise ConfigurationError(f"{where}: visibility_timeout must be an int from 0 to {MAX_VISIBILITY_TIMEOUT}, not {vt!r}.")
        if self.receiver is not None:
            _check_receiver(where, self.receiver)
            if vt is not None and vt < 1:
                raise ConfigurationError(
                    f"{where}: visibility_timeout={vt} cannot work with a receiver: a worker cannot hold "
                    "a message hidden for 0 seconds. Use 1 second or more."
                )
        if not (isinstance(self.message_class, type) and issubclass(self.message_class, Message)):
            raise ConfigurationError(f"{where}: message_class must be a subclass of django_sqs.message.Message.")
        if self.delete_on_start and self._delete_on_error is False:
            raise ConfigurationError(f"{where}: delete_on_start=True deletes before the receiver runs; delete_on_error=False cannot keep it.")
        if self.max_receive_count is not None and not self.dead_letter_queue:
            raise ConfigurationError(f"{where}: max_receive_count needs a dead_letter_queue.")
        if self.dead_letter_queue:
            mrc = self.max_receive_count
            if mrc is None:
                self.max_receive_count = 5
            elif not isinstance(mrc, int) or not 1 <= mrc <= 1000:
                raise ConfigurationError(f"{where}: max_receive_count must be an int from 1 to 1000, not {mrc!r}.")
            if naming.is_fifo(self.dead_letter_queue) != self.fifo:
                raise ConfigurationError(
                    f"{where}: the dead-letter queue of a {'FIFO' if self.fifo else 'standard'} queue must be "
                    f"{'FIFO (end in .fifo)' if self.fifo else 'standard'}; got {self.dead_letter_queue!r}."
                )
        for suffix in self.suffixes:
            naming.validate_part("suffix", suffix)
        # Names SQS would refuse are an error now, at registration, not at 3 a.m.
        # A broken prefix is left to the system checks (E001/E003): it is not this queue's fault,
        # and raising here would stop manage.py check from ever reporting it.
        prefix = settings.SQS_QUEUE_PREFIX
        if naming.part_problem(prefix):
            prefix = ""
        for suffix in (None, *self.suffixes):
            naming.validated_full_name(prefix, self.name, suffix)

    # -- naming ---------------------------------------------------------------------
    @property
    def fifo(self) -> bool:
        return naming.is_fifo(self.name)

    def full_name(self, suffix: str | None = None) -> str:
        """The SQS name: prefix, name and suffix joined by ``__`` (``.fifo`` kept last).

        Every name used at run time comes from here, so the rules hold everywhere (send,
        runreceiver, the operating commands): a prefix the system check refuses
        (E001–E003) raises ``ConfigurationError``, an invalid name or suffix
        ``InvalidQueueName``, and a suffix the queue did not declare ``UnknownSuffix``
        (a queue nobody serves would be created otherwise).
        """
        problem = naming.prefix_problem(settings.SQS_QUEUE_PREFIX, settings.DEBUG)
        if problem:
            check_id, message, hint = problem
            raise ConfigurationError(f"{message} {hint} ({check_id})")
        if suffix:
            naming.validate_part("suffix", suffix)
            if suffix not in self.suffixes:
                raise UnknownSuffix(
                    f"Suffix {suffix!r} is not declared for queue {self.name!r} "
                    f"(declared: {', '.join(self.suffixes) or 'none'}). Add it to the registration: "
                    f"suffixes=({', '.join(repr(s) for s in (*self.suffixes, suffix))},)."
                )
        return naming.validated_full_name(settings.SQS_QUEUE_PREFIX, self.name, suffix or None)

    def full_names(self) -> list[tuple[str | None, str]]:
        """``(suffix, full name)`` for the queue itself and each declared suffix."""
        return [(s, self.full_name(s)) for s in (None, *self.suffixes)]

    # -- behaviour --------------------------------------------------------------------
    def get_visibility_timeout(self) -> int:
        vt = self.visibility_timeout
        return settings.SQS_DEFAULT_VISIBILITY_TIMEOUT if vt is None else vt

    @property
    def delete_on_error(self) -> bool:
        """True unless set false, or a dead-letter queue is declared."""
        if self._delete_on_error is None:
            return not self.dead_letter_queue
        return self._delete_on_error

    def queue_attributes(self, dead_letter_arn: str | None = None) -> dict[str, str]:
        """The SQS attributes this queue is created (or updated) with."""
        attrs = {"VisibilityTimeout": str(self.get_visibility_timeout())}
        if self.fifo:
            attrs["FifoQueue"] = "true"
            attrs["ContentBasedDeduplication"] = "true"
        if dead_letter_arn:
            attrs["RedrivePolicy"] = json.dumps(
                {"deadLetterTargetArn": dead_letter_arn, "maxReceiveCount": self.max_receive_count},
                separators=(",", ":"),
            )
        return attrs

    def __repr__(self) -> str:
        return f"<RegisteredQueue {self.name!r}>"
