"""Which worker serves which queues: ``Group`` and the ``SQS_WORKERS`` setting.

Light on purpose (settings and the registry only): the system checks and ``sqs_status``
read it in every Django process; the worker's own part (``worker.groups``) turns a group
into the queues one worker process serves.

A group is one worker (times its ``concurrency``) serving one queue, several in strict
priority order (``mode="priority"``), or several sharing its threads by weight
(``mode="weighted"``). ``runreceiver`` turns its arguments into groups (``plan``):

- no queue names and no ``SQS_WORKERS``: one group per queue (fork-per-queue);
- no queue names with ``SQS_WORKERS``: its groups, plus one group per queue no group names;
- ``--group NAME``: that declared group (the option may be repeated);
- names with ``--priority`` / ``--weights`` / ``--together``: one group of them;
- names alone: one group per queue.

``problems()`` validates ``SQS_WORKERS`` for the system checks (ids E050–E057, W050).
"""

from __future__ import annotations

import dataclasses
import fnmatch
from typing import Any

from .conf import settings
from .registered_queue import RegisteredQueue
from .registry import registry

MODES = ("priority", "weighted")
#: An idle worker holds one long poll (one HTTP connection) open per queue it serves;
#: botocore's pool has 20 (``client.client_config``), some needed for receives and deletes.
MAX_QUEUES_PER_WORKER = 16
KEYS = {"name", "queues", "mode", "threads", "concurrency", "weights"}
EXAMPLE = (
    'SQS_WORKERS = [{"name": "tasks", "queues": ["default"], "mode": "priority"}, '
    '{"name": "small", "queues": ["mail", "thumbs"], "mode": "weighted", "weights": {"mail": 2}}]'
)


@dataclasses.dataclass
class Group:
    """One worker's queues and how it serves them."""

    name: str
    queues: list[RegisteredQueue]
    mode: str = "single"  # "single", "priority" or "weighted"
    threads: int | None = None  # None: runreceiver's --threads
    concurrency: int | None = None  # None: runreceiver's --concurrency
    weights: dict[str, int] | None = None  # registered queue name → weight (weighted only)
    declared: bool = False  # from SQS_WORKERS: its name labels its processes

    def describe(self) -> str:
        names = [rq.name for rq in self.queues]
        if self.mode == "weighted":
            weights = self.weights or {}
            names = [f"{n}={weights.get(n, 1)}" for n in names]
        return f"{self.name}: {self.mode} " + ",".join(names)


def declared() -> list[dict[str, Any]]:
    """``SQS_WORKERS`` as written (a list of dicts; [] when unset)."""
    return list(settings.SQS_WORKERS or [])


def _matching(pattern: str, candidates: list[RegisteredQueue]) -> list[RegisteredQueue]:
    return sorted((rq for rq in candidates if fnmatch.fnmatchcase(rq.name, pattern)), key=lambda rq: rq.name)


def problems() -> list[tuple[str, str, str]]:
    """What is wrong with ``SQS_WORKERS``: (check id, message, hint) each."""
    value = settings.SQS_WORKERS
    if value is None or value == []:
        return []
    if not isinstance(value, (list, tuple)) or not all(isinstance(e, dict) for e in value):
        return [("django_sqs.E050", f"SQS_WORKERS must be a list of dicts, not {value!r}.", EXAMPLE)]
    found: list[tuple[str, str, str]] = []
    candidates = registry.with_receivers()
    known = ", ".join(rq.name for rq in candidates) or "none"
    names: set[str] = set()
    owner: dict[str, str] = {}
    for i, entry in enumerate(value):
        name = entry.get("name")
        where = f"SQS_WORKERS[{i}]" + (f" ({name!r})" if isinstance(name, str) else "")
        unknown = sorted(set(entry) - KEYS)
        if unknown:
            found.append((
                "django_sqs.E050", f"{where} has unknown key(s): {', '.join(unknown)}.",
                f"The keys are: {', '.join(sorted(KEYS))}.",
            ))
        if not isinstance(name, str) or not name or name in names:
            found.append((
                "django_sqs.E051",
                f"{where} needs a unique, non-empty string 'name'" + (f"; {name!r} is used twice" if name in names else "") + ".",
                "runreceiver --group NAME starts the group of that name.",
            ))
        if isinstance(name, str):
            names.add(name)
        queues = entry.get("queues")
        if not isinstance(queues, (list, tuple)) or not queues or not all(isinstance(q, str) and q for q in queues):
            found.append((
                "django_sqs.E052", f"{where} needs 'queues': a non-empty list of queue names (or shell patterns).",
                '"queues": ["mail", "thumbs", "reports_*"]',
            ))
            queues = []
        for pattern in queues:
            matched = _matching(pattern, candidates)
            if not matched:
                found.append((
                    "django_sqs.E053", f"{where} names {pattern!r}, which matches no registered queue with a receiver.",
                    f"Use the registered names (known: {known}).",
                ))
            for rq in matched:
                first = owner.setdefault(rq.name, where)
                if first != where:
                    found.append((
                        "django_sqs.E054", f"Queue {rq.name!r} is in two groups: {first} and {where}.",
                        "Each queue is served by one group: remove it from one of them (two groups would "
                        "compete for its messages and its priority or weight would mean nothing).",
                    ))
        mode = entry.get("mode", "weighted")
        if mode not in MODES:
            found.append((
                "django_sqs.E055", f"{where} has mode {mode!r}; the modes are 'priority' and 'weighted'.",
                '"mode": "priority" serves the queues in the order listed (first = highest); '
                '"mode": "weighted" shares the threads by "weights".',
            ))
        for key in ("threads", "concurrency"):
            number = entry.get(key, 1)
            if not isinstance(number, int) or isinstance(number, bool) or number < 1:
                found.append((
                    "django_sqs.E056", f"{where} has {key}={number!r}; it must be a whole number of at least 1.",
                    f'"{key}": 4',
                ))
        served = {rq.name: rq for pattern in queues for rq in _matching(pattern, candidates)}
        polls = sum(len(getattr(rq, "priority_suffixes", None) or [None]) for rq in served.values())
        if polls > MAX_QUEUES_PER_WORKER:
            found.append((
                "django_sqs.W050",
                f"{where} serves {polls} SQS queues in one worker; idle, each holds a long poll (an HTTP "
                f"connection) open, and the SQS client keeps 20.",
                f"Split it into groups of at most {MAX_QUEUES_PER_WORKER} queues.",
            ))
        weights = entry.get("weights")
        if weights is not None:
            found += _weight_problems(where, weights, mode, queues, candidates)
    return found


def _weight_problems(where: str, weights: Any, mode: Any, queues: list[str], candidates) -> list[tuple[str, str, str]]:
    hint = '"weights": {"mail": 3, "thumbs": 1} (a queue left out weighs 1; 0: only when the others are empty)'
    if mode == "priority":
        return [("django_sqs.E057", f"{where} has weights but mode 'priority'.", 'Use "mode": "weighted", or remove "weights".')]
    if not isinstance(weights, dict) or not all(
        isinstance(w, int) and not isinstance(w, bool) and w >= 0 for w in weights.values()
    ):
        return [("django_sqs.E057", f"{where} has weights {weights!r}; they must be whole numbers of 0 or more.", hint)]
    found = []
    served = {rq.name for pattern in queues for rq in _matching(pattern, candidates)}
    stray = sorted(set(weights) - served)
    if stray:
        found.append((
            "django_sqs.E057", f"{where} weighs queue(s) it does not serve: {', '.join(stray)}.",
            f"Weigh the group's own queues ({', '.join(sorted(served)) or 'none'}).",
        ))
    if served and all(weights.get(q, 1) == 0 for q in served):
        found.append(("django_sqs.E057", f"{where} gives every queue weight 0.", hint))
    return found


def declared_groups() -> list[Group]:
    """The groups of ``SQS_WORKERS``; a ``ValueError`` naming the problem when it is invalid."""
    wrong = problems()
    if wrong:
        check_id, message, _ = wrong[0]
        raise ValueError(f"{message} ({check_id}; run manage.py check)")
    candidates = registry.with_receivers()
    groups = []
    for entry in declared():
        queues = list({rq.name: rq for p in entry["queues"] for rq in _matching(p, candidates)}.values())
        mode = entry.get("mode", "weighted")
        groups.append(Group(
            name=entry["name"], queues=queues, mode=mode,
            threads=entry.get("threads"), concurrency=entry.get("concurrency"),
            weights=dict(entry.get("weights") or {}) if mode == "weighted" else None, declared=True,
        ))
    return groups


def serving() -> dict[str, str]:
    """Registered queue name → the name of the ``SQS_WORKERS`` group that serves it
    (queues in no group are served by a worker of their own)."""
    try:
        return {rq.name: group.name for group in declared_groups() for rq in group.queues}
    except ValueError:
        return {}


def plan(
    queues: list[RegisteredQueue], *, named: bool, group_names: list[str] | None = None,
    mode: str = "single", weights: dict[str, int] | None = None,
) -> list[Group]:
    """The workers ``runreceiver`` starts (see the module docstring)."""
    if group_names:
        by_name = {g.name: g for g in declared_groups()}
        missing = [n for n in group_names if n not in by_name]
        if missing:
            raise ValueError(
                f"No worker group named {', '.join(missing)} in SQS_WORKERS "
                f"(declared: {', '.join(by_name) or 'none'})."
            )
        return [by_name[n] for n in group_names]
    if mode in MODES:
        return [Group(name="+".join(rq.name for rq in queues), queues=queues, mode=mode, weights=weights)]
    groups = [] if named else declared_groups()
    grouped = {rq.name for g in groups for rq in g.queues}
    return groups + [Group(name=rq.name, queues=[rq]) for rq in queues if rq.name not in grouped]
