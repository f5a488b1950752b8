"""A worker group made concrete for ``runreceiver``: ``Plan``, the queues (with their
suffix) one worker process serves, its threads, its concurrency and its weights. The
groups themselves, ``SQS_WORKERS`` and its checks are ``django_sqs.worker_groups``."""

from __future__ import annotations

import dataclasses

from ..worker_groups import Group
from .lifecycle import sources_for
from .sources import Source


@dataclasses.dataclass
class Plan:
    """A group made concrete: the queues (with suffix) one worker process serves, how many
    such processes, and with how many threads each."""

    sources: list[Source]
    label: str
    threads: int = 1
    concurrency: int = 1
    weights: dict[str, int] | None = None  # None: strict order (one queue, or priority)

    @property
    def names(self) -> str:
        return "+".join(s.full_name for s in self.sources)



def plan_of(group: Group, *, suffix: str | None, threads: int | None, concurrency: int | None) -> Plan:
    """The worker to start for ``group``: ``threads``/``concurrency`` given on the command
    line win over the group's own."""
    sources = sources_for(group.queues, suffix)
    return Plan(
        sources=sources,
        label=group.name if group.declared else "+".join(s.full_name for s in sources),
        threads=threads or group.threads or 1,
        concurrency=concurrency or group.concurrency or 1,
        weights=group.weights if group.mode == "weighted" else None,
    )
