"""How a registered name becomes an SQS queue name, and what SQS accepts.

The scheme: the non-empty parts ``prefix``, ``name`` and ``suffix`` joined by ``__``;
a ``.fifo`` ending of the name is moved to the very end. So with
``SQS_QUEUE_PREFIX = "dev"``: ``thumbnails`` → ``dev__thumbnails``, with suffix
``big`` → ``dev__thumbnails__big``, and ``orders.fifo`` with suffix ``eu`` →
``dev__orders__eu.fifo``.
"""

from __future__ import annotations

import re

from .exceptions import InvalidQueueName

SEPARATOR = "__"
FIFO_ENDING = ".fifo"
MAX_QUEUE_NAME_LENGTH = 80
_ALLOWED = re.compile(r"[A-Za-z0-9_-]*")


def is_fifo(name: str) -> bool:
    return name.endswith(FIFO_ENDING)


def default_queue_name(fn) -> str:
    """``shop.tasks.charge`` → ``shop__tasks__charge``."""
    return f"{fn.__module__}.{fn.__qualname__}".replace(".", SEPARATOR).replace("<", "").replace(">", "")


def build_full_name(prefix: str, name: str, suffix: str | None = None) -> str:
    """Join prefix, name and suffix by the documented scheme (no validation)."""
    base = name[: -len(FIFO_ENDING)] if is_fifo(name) else name
    full = SEPARATOR.join(part for part in (prefix, base, suffix) if part)
    return full + FIFO_ENDING if is_fifo(name) else full


def name_problem(full_name: str) -> str | None:
    """Why SQS would refuse ``full_name`` as a queue name, or None when it is fine."""
    if not full_name:
        return "it is empty"
    if len(full_name) > MAX_QUEUE_NAME_LENGTH:
        return f"it is {len(full_name)} characters long; SQS allows at most {MAX_QUEUE_NAME_LENGTH}"
    stem = full_name[: -len(FIFO_ENDING)] if is_fifo(full_name) else full_name
    if not stem:
        return "it has nothing before '.fifo'"
    if not _ALLOWED.fullmatch(stem):
        bad = sorted({c for c in stem if not _ALLOWED.fullmatch(c)})
        where = " ('.fifo' is allowed only at the very end)" if "." in bad else ""
        return (
            "it contains " + ", ".join(repr(c) for c in bad)
            + "; SQS allows only letters, digits, '-' and '_'" + where
        )
    return None


def part_problem(value: object) -> str | None:
    """Why a prefix or suffix cannot be part of a queue name, or None when it is fine.

    Unlike a name, a part may not end in '.fifo': it is not at the end of the full name.
    """
    if not isinstance(value, str):
        return f"it is a {type(value).__name__}, not a string"
    if value and not _ALLOWED.fullmatch(value):
        return "SQS allows only letters, digits, '-' and '_'"
    return None


def validate_part(kind: str, value: str) -> None:
    """Check a prefix or suffix on its own: it must be made of allowed characters."""
    problem = part_problem(value)
    if problem:
        raise InvalidQueueName(f"Queue {kind} {value!r} is invalid: {problem}.")


def prefix_problem(prefix: object, debug: bool) -> tuple[str, str, str] | None:
    """``(check id, message, hint)`` when ``SQS_QUEUE_PREFIX`` cannot be used, else None.

    The one rule for the prefix: ``manage.py check`` reports it and every name built at
    run time (send, runreceiver, the operating commands) refuses it.
    """
    if not isinstance(prefix, str):
        return (
            "django_sqs.E001",
            f"SQS_QUEUE_PREFIX must be a string, not {type(prefix).__name__}.",
            'Set SQS_QUEUE_PREFIX = "myproject_dev" (letters, digits, - and _).',
        )
    if not prefix and debug:
        return (
            "django_sqs.E002",
            "SQS_QUEUE_PREFIX is empty while DEBUG is True.",
            "Development machines share AWS accounts: set SQS_QUEUE_PREFIX to something "
            'personal (for example f"dev_{getpass.getuser()}") so queues do not collide with production.',
        )
    # part_problem: a prefix ending in '.fifo' is still refused (it is not at the end).
    problem = prefix and (part_problem(prefix) or name_problem(prefix))
    if problem:
        return (
            "django_sqs.E003",
            f"SQS_QUEUE_PREFIX {prefix!r} is not valid in a queue name: {problem}.",
            "Use only letters, digits, '-' and '_'.",
        )
    return None


def validated_full_name(prefix: str, name: str, suffix: str | None = None) -> str:
    """``build_full_name`` that raises ``InvalidQueueName`` saying which name and why."""
    if suffix is not None:
        validate_part("suffix", suffix)
    full = build_full_name(prefix, name, suffix)
    problem = name_problem(full)
    if problem:
        raise InvalidQueueName(f"Queue name {full!r} (registered as {name!r}) is invalid: {problem}.")
    return full
