"""The exceptions django_sqs raises, and ``RestartLater``."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured


class SQSError(Exception):
    """Base class of every error django_sqs raises on its own account."""


class ConfigurationError(SQSError, ImproperlyConfigured):
    """A setting or a registration that cannot work (bad queue name, duplicate receiver…)."""


class InvalidQueueName(ConfigurationError, ValueError):
    """A queue name that SQS would refuse."""


class UnknownQueue(SQSError, KeyError):
    """A queue name that no ``receiver``/``register`` call declared."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class UnknownSuffix(ConfigurationError, ValueError):
    """A suffix the queue did not declare (``suffixes=``): nobody would serve that queue."""


class QueueDoesNotExist(SQSError):
    """The queue is not in SQS and ``SQS_CREATE_QUEUES`` is off."""


class MessageError(SQSError, ValueError):
    """A message that cannot be sent as it is."""


class MessageEncodeError(MessageError):
    """The message class cannot turn this body into text."""


class MessageTooLarge(MessageError):
    """The body plus attributes is over what SQS accepts; nothing was sent."""


class BadMessage(SQSError):
    """A received message its class cannot decode (not JSON, a deleted row…)."""


class SendError(SQSError):
    """SQS refused some entries of a batch send.

    ``ids`` holds the message ids in input order (``None`` where the entry failed);
    ``failed`` lists ``(index, code, message)`` for each refused entry.
    """

    def __init__(self, message: str, ids: list[str | None], failed: list[tuple[int, str, str]]):
        super().__init__(message)
        self.ids = ids
        self.failed = failed


class SQSRequestError(SQSError):
    """A request to SQS failed after botocore's retries (wraps ClientError/BotoCoreError).

    ``code`` is the AWS error code when SQS answered, else the exception class name;
    ``transient`` tells whether trying again later may succeed (network, throttling, 5xx);
    ``action`` is the SQS action that failed (``"SendMessage"``).
    """

    def __init__(self, message: str, *, code: str = "", transient: bool = False, action: str = ""):
        super().__init__(message)
        self.code = code
        self.transient = transient
        self.action = action


class RestartLater(Exception):
    """Raise from a receiver to leave the message in the queue for a later attempt.

    ``RestartLater()`` lets it come back when its visibility timeout runs out;
    ``RestartLater(delay=30)`` makes it visible again after 30 seconds. No traceback is logged.
    ``logged=True``: the receiver has logged why, so the worker's own line is DEBUG, not INFO.
    """

    def __init__(self, delay: int | None = None, reason: str = "", *, logged: bool = False):
        if delay is not None and not (0 <= int(delay) <= 43200):
            raise ValueError("RestartLater delay must be between 0 and 43200 seconds")
        super().__init__(reason or (f"restart in {delay}s" if delay is not None else "restart later"))
        self.delay = None if delay is None else int(delay)
        self.logged = logged
