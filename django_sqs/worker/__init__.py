"""The worker behind ``manage.py runreceiver``: read ``lifecycle`` first, then
``polling`` → ``dispatch`` → ``handlers`` (the data path from the wire to the receiver),
with ``heartbeat`` and ``deleting`` beside it, and ``supervisor`` above it. ``strategy``
says which of a worker's queues to receive from next (strict or weighted); ``groups`` makes
the worker groups of ``django_sqs.worker_groups`` (``SQS_WORKERS``, ``--priority``,
``--weights``) into the workers the supervisor starts."""

from .dispatch import Counter
from .lifecycle import Worker, sources_for
from .sources import Held, Source
from .supervisor import Supervisor

__all__ = ["Counter", "Held", "Source", "Supervisor", "Worker", "sources_for"]
