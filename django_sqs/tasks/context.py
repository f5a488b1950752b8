"""The ``TaskContext`` a task run by ``runreceiver`` receives (``takes_context=True``).

Django's own, plus ``tick``: the schedule's tick (``django_sqs.periodic``) that enqueued
this run, or None when no schedule did.
"""

from __future__ import annotations

import dataclasses

from ..message import Tick
from .compat import TaskContext


@dataclasses.dataclass(frozen=True, kw_only=True)
class SQSTaskContext(TaskContext):
    tick: Tick | None = None
