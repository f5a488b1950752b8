"""The one place boto3 is configured: session, client, retries and error wrapping.

One client per process, shared by its threads: boto3 clients are thread-safe once built
(sessions are not, so the client is built under a lock). Each client costs about 15 MB and
a credential lookup, which a threaded web server or worker would otherwise pay per thread.
It is created lazily from settings, dropped when a setting changes (``override_settings``)
and re-created after a fork, because a client's connection pool must never be shared
across processes.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator

import boto3
import botocore.config
import botocore.exceptions
from django.core.signals import setting_changed

from .conf import MAX_POLL_PERIOD, SETTING_NAMES, settings
from .exceptions import SQSRequestError
from .version import __version__

_lock = threading.Lock()
_client = None
_client_key: tuple[int, int] | None = None  # (pid, generation) the client was built for
_generation = 0  # bumped when a setting changes; a client of an older generation is dropped
#: The other clients (``SHORT``), built for the same (pid, generation) as ``_client``.
_others: dict[str, object] = {}

#: Kinds of client, by how long their requests may take (``get_client(kind)``):
#: ``DEFAULT`` for receives, sends and administration (a long poll holds the answer up to
#: the poll period); ``SHORT`` for the requests on messages a worker holds
#: (DeleteMessageBatch, ChangeMessageVisibilityBatch: the heartbeat, the give-back), which
#: SQS answers in milliseconds and which must not hold up a heartbeat or a stop.
DEFAULT, SHORT = "default", "short"
#: SHORT: seconds to connect and to read the answer, and attempts in all (botocore's own
#: retries): at most about 2 × (2 + 5) s before the caller hears of the failure.
SHORT_CONNECT_TIMEOUT = 2
SHORT_READ_TIMEOUT = 5
SHORT_ATTEMPTS = 2
#: DEFAULT: the read timeout is the poll period plus this margin, and at least
#: ``DEFAULT_READ_TIMEOUT`` (a send of 256 KB on a slow link).
POLL_MARGIN = 5
DEFAULT_READ_TIMEOUT = 10

#: AWS error codes after which trying again later may work.
TRANSIENT_CODES = {
    "Throttling",
    "ThrottlingException",
    "RequestThrottled",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ServiceUnavailable",
    "InternalError",
    "InternalFailure",
    "KmsThrottled",
    "RequestTimeout",
    "RequestTimeoutException",
}
NONEXISTENT_QUEUE_CODES = {"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"}


def client_config() -> botocore.config.Config:
    return botocore.config.Config(
        region_name=settings.SQS_REGION or None,
        # botocore's "standard" mode: retries throttling, 5xx and connection errors
        # with exponential backoff and jitter. max_attempts counts retries: 4 attempts in all.
        retries={"mode": "standard", "max_attempts": 3},
        connect_timeout=5,
        # A long poll holds the socket for the poll period: the read timeout outlasts it
        # by a margin, and no more (an endpoint that never answers is noticed).
        read_timeout=max(DEFAULT_READ_TIMEOUT, min(settings.SQS_POLL_PERIOD, MAX_POLL_PERIOD) + POLL_MARGIN),
        user_agent_extra=f"django-sqs/{__version__}",
        max_pool_connections=20,
    )


def short_client_config() -> botocore.config.Config:
    return client_config().merge(
        botocore.config.Config(
            retries={"mode": "standard", "total_max_attempts": SHORT_ATTEMPTS},
            connect_timeout=SHORT_CONNECT_TIMEOUT,
            read_timeout=SHORT_READ_TIMEOUT,
        )
    )


def make_session() -> boto3.session.Session:
    """An explicit session: the explicit credentials if set, else boto3's default chain."""
    kwargs = {}
    if settings.AWS_ACCESS_KEY_ID:
        kwargs["aws_access_key_id"] = settings.AWS_ACCESS_KEY_ID
        kwargs["aws_secret_access_key"] = settings.AWS_SECRET_ACCESS_KEY
        if settings.AWS_SESSION_TOKEN:
            kwargs["aws_session_token"] = settings.AWS_SESSION_TOKEN
    return boto3.session.Session(**kwargs)


def _region(session: boto3.session.Session) -> str:
    return settings.SQS_REGION or session.region_name or "us-east-1"


def get_client(kind: str = DEFAULT):
    """The SQS client of this process for requests of ``kind`` (``DEFAULT``, ``SHORT``),
    shared by its threads (created on first use)."""
    global _client, _client_key
    key = (os.getpid(), _generation)
    client = _client if kind == DEFAULT else _others.get(kind)
    if _client_key == key and client is not None:
        return client
    with _lock:
        if _client_key != key or _client is None:
            _others.clear()
            _client = _build(client_config())
            _client_key = key
        if kind == DEFAULT:
            return _client
        if kind not in _others:
            _others[kind] = _build({SHORT: short_client_config}[kind]())
        return _others[kind]


def _build(config: botocore.config.Config):
    session = make_session()
    client = session.client(
        "sqs", region_name=_region(session), endpoint_url=settings.SQS_ENDPOINT_URL or None, config=config
    )
    for hook in new_client_hooks:
        hook(client)
    return client


def generation() -> int:
    """Changes whenever the client is reset: caches derived from settings (queue URLs)
    compare it to know they are stale, so this module needs to know nothing about them."""
    return _generation


# -- hooks -----------------------------------------------------------------------------
#: Called with each client this module builds (``metrics`` registers botocore event
#: handlers there, to count every request). Kept apart from the rest on purpose.
new_client_hooks: list[Callable[[object], None]] = []


def reset() -> None:
    """Forget the client and everything derived from settings (``generation()`` changes)."""
    global _generation, _client, _client_key
    with _lock:
        _generation += 1
        _client, _client_key = None, None
        _others.clear()


def _after_fork_in_child() -> None:
    # Another thread may have held the lock at the moment of the fork: the child gets a
    # fresh one, and no client (its sockets belong to the parent).
    global _lock, _client, _client_key
    _lock = threading.Lock()
    _client, _client_key = None, None
    _others.clear()


os.register_at_fork(after_in_child=_after_fork_in_child)


def _on_setting_changed(*, setting: str, **kwargs) -> None:
    if setting in SETTING_NAMES:
        reset()


setting_changed.connect(_on_setting_changed)


def error_code(exc: BaseException) -> str:
    if isinstance(exc, botocore.exceptions.ClientError):
        return exc.response.get("Error", {}).get("Code", "") or "ClientError"
    return type(exc).__name__


def is_transient(exc: BaseException) -> bool:
    """True for failures that go away by themselves: network, throttling, 5xx."""
    if isinstance(exc, botocore.exceptions.ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0
        return status >= 500 or error_code(exc) in TRANSIENT_CODES
    return isinstance(
        exc,
        (
            botocore.exceptions.ConnectionError,
            botocore.exceptions.HTTPClientError,
            botocore.exceptions.ReadTimeoutError,
        ),
    )


@contextlib.contextmanager
def wrap_errors(action: str, queue: str) -> Iterator[None]:
    """Turn boto errors into ``SQSRequestError`` naming the action and the queue."""
    try:
        yield
    except botocore.exceptions.NoCredentialsError as exc:
        # Not an SQS problem: nothing was sent. Say what is missing and where it is looked for.
        raise SQSRequestError(
            f"{action} on queue {queue!r} failed: no AWS credentials found. Set AWS_ACCESS_KEY_ID "
            "and AWS_SECRET_ACCESS_KEY (environment or settings), a profile (AWS_PROFILE) or an "
            "instance/task role.",
            code=error_code(exc),
            transient=False,
            action=action,
        ) from exc
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
        raise SQSRequestError(
            f"{action} on queue {queue!r} failed: {exc}",
            code=error_code(exc),
            transient=is_transient(exc),
            action=action,
        ) from exc
