"""Queue URLs by full SQS name: ``SQS_QUEUE_URLS`` first (no request), else one
GetQueueUrl per process, cached. Creation is decided in ``provisioning``. Never ListQueues."""

from __future__ import annotations

import logging
import os
import threading

import botocore.exceptions

from . import client
from .client import NONEXISTENT_QUEUE_CODES, error_code, get_client, wrap_errors
from .conf import settings

logger = logging.getLogger("django_sqs")

_cache: dict[str, str] = {}
# The process and client generation the cache was filled for: a forked child starts with
# its own cache, and a client reset (a setting changed: another endpoint, another prefix)
# empties it.
_cache_key = (os.getpid(), client.generation())
_lock = threading.Lock()


def clear_cache() -> None:
    with _lock:
        _cache.clear()


def _cached(full_name: str) -> str | None:
    global _cache_key
    key = (os.getpid(), client.generation())
    if _cache_key != key:
        with _lock:
            _cache.clear()
            _cache_key = key
    return _cache.get(full_name)


def _store(full_name: str, url: str) -> None:
    _cached(full_name)  # a cache of an older process or generation is emptied first
    with _lock:
        _cache[full_name] = url


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
    _store(full_name, url)
    return url


def create(full_name: str, attributes: dict[str, str]) -> str:
    """CreateQueue (idempotent when the attributes match) and cache the URL."""
    with wrap_errors("CreateQueue", full_name):
        url = get_client().create_queue(QueueName=full_name, Attributes=attributes)["QueueUrl"]
    logger.info("created queue=%s", full_name)
    _store(full_name, url)
    return url
