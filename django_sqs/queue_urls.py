"""Queue URLs by full SQS name: ``SQS_QUEUE_URLS`` first (no request), else one
GetQueueUrl per process, cached. Creation is decided in ``provisioning``. Never ListQueues."""

from __future__ import annotations

import logging
import os
import threading

import botocore.exceptions

from .client import NONEXISTENT_QUEUE_CODES, error_code, get_client, wrap_errors
from .conf import settings

logger = logging.getLogger("django_sqs")

_cache: dict[str, str] = {}
_cache_pid = os.getpid()
_lock = threading.Lock()


def clear_cache() -> None:
    with _lock:
        _cache.clear()


def _cached(full_name: str) -> str | None:
    global _cache_pid
    if _cache_pid != os.getpid():  # a forked child starts with its own cache
        _cache.clear()
        _cache_pid = os.getpid()
    return _cache.get(full_name)


def lookup(full_name: str) -> str | None:
    """The URL of an existing queue, or None; no creation. Configured URLs win."""
    configured = settings.SQS_QUEUE_URLS.get(full_name)
    if configured:
        return configured
    url = _cached(full_name)
    if url:
        return url
    with wrap_errors("GetQueueUrl", full_name):
        try:
            url = get_client().get_queue_url(QueueName=full_name)["QueueUrl"]
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) in NONEXISTENT_QUEUE_CODES:
                return None
            raise
    with _lock:
        _cache[full_name] = url
    return url


def create(full_name: str, attributes: dict[str, str]) -> str:
    """CreateQueue (idempotent when the attributes match) and cache the URL."""
    with wrap_errors("CreateQueue", full_name):
        url = get_client().create_queue(QueueName=full_name, Attributes=attributes)["QueueUrl"]
    logger.info("created queue=%s", full_name)
    with _lock:
        _cache[full_name] = url
    return url
