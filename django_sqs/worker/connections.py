"""Database connections around a message, as Django treats them around a request.

These run in the thread that runs the receiver: Django's connections are per thread.
"""

from __future__ import annotations

from django.db import connections


def _open_connections():
    # A connection inside an atomic block belongs to someone who wrapped the worker in
    # a transaction (a test case); closing it would break that transaction.
    return [c for c in connections.all(initialized_only=True) if c.connection is not None and not c.in_atomic_block]


def prepare_connections() -> None:
    """Before a message: close connections that are broken or past CONN_MAX_AGE.

    A worker idles far longer than a web process between uses, so a persistent
    connection may have been dropped by the server meanwhile: health checks are turned
    on for it, which Django runs lazily on its first use in this message.
    """
    for conn in _open_connections():
        conn.close_if_unusable_or_obsolete()
        if conn.connection is not None:
            conn.health_check_enabled = True


def finish_connections(close_all: bool) -> None:
    """After a message: as after a request, or close everything (``close_database``)."""
    for conn in _open_connections():
        if close_all:
            conn.close()
        else:
            conn.close_if_unusable_or_obsolete()


def close_thread_connections() -> None:
    """When a handler thread ends: its connections would otherwise stay open until the
    process exits."""
    for conn in _open_connections():
        conn.close()
