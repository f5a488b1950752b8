"""The worker behind ``manage.py runreceiver``: read ``lifecycle`` first, then
``polling`` → ``dispatch`` → ``handlers`` (the data path from the wire to the receiver),
with ``heartbeat`` and ``deleting`` beside it, and ``supervisor`` above it. ``strategy``
says which of a worker's queues to receive from next (strict or weighted); ``groups`` says
which worker serves which queues (``SQS_WORKERS``, ``--priority``, ``--weights``)."""

from .dispatch import Counter
from .lifecycle import Worker, sources_for
from .sources import Held, Source
from .supervisor import Supervisor

__all__ = ["Counter", "Held", "Source", "Supervisor", "Worker", "sources_for"]
