"""Django signals sent by the worker, for your own tooling (and for ours: health, metrics).

Every signal is sent with ``send_robust``: a receiver that raises never breaks the worker,
and Django logs it once (ERROR with the traceback, on the ``django.dispatch`` logger). Receivers run in the thread
that sends, so keep them short (they sit on the path of every message).

``worker_started``   sender=the worker class; ``queues`` (full names, in priority order),
                     ``pid``, ``threads``, ``worker`` (its name: the ``SQS_WORKERS`` group,
                     else its queues joined by "+"), ``mode`` ("single", "priority", "weighted").
``worker_stopping``  sender=the worker class; ``queues``, ``pid``, ``reason``
                     ("signal", "limit", "empty", "parent gone").
``queue_polled``     sender=the worker class; ``queue`` (full name), ``received`` (count),
                     ``wait`` (the WaitTimeSeconds asked for), ``ok`` (False when SQS failed).
``message_received`` sender=the worker class; ``queue``, ``message_id``, ``receive_count``,
                     ``sent_at`` (datetime or None). Sent when a receiver is about to start.
``message_handled``  sender=the worker class; ``queue``, ``message_id``, ``outcome``
                     ("ok", "restart", "error", "bad message", "expired"), ``duration``
                     (seconds, float), ``receive_count``.
"""

from __future__ import annotations

from django.dispatch import Signal

worker_started = Signal()
worker_stopping = Signal()
queue_polled = Signal()
message_received = Signal()
message_handled = Signal()


def emit(signal: Signal, sender: object, **kwargs: object) -> None:
    """Send ``signal`` to every receiver; what a receiver raises is not raised here.

    Django's ``send_robust`` logs each failure itself (``django.dispatch``, with the
    traceback), so it is not logged again here: one failure, one log record.
    """
    if not signal.has_listeners(sender):  # the common case costs one check, not a send
        return
    signal.send_robust(sender, **kwargs)
