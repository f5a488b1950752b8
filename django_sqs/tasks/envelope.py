"""The task message on the wire: a versioned JSON envelope.

    {"v": 1, "id": "<result id>", "task": "shop.tasks.charge", "args": [...], "kwargs": {...},
     "backend": "default", "queue": "default", "priority": 0,
     "enqueued_at": "2026-12-02T07:45:51.123456+00:00", "run_after": null, "attempt": 1}

``attempt`` is the attempt this message is for: 1 when enqueued, one more for each retry
(a retry is a new message). An envelope without it (sent by an earlier version) is attempt 1.

plus ``"tick": {"schedule": "...", "at": "<UTC ISO time>"}`` when a schedule sent it
(``django_sqs.periodic``); absent otherwise, so envelopes without it read as before.

``v`` lets a later version change the layout while old messages are still in the queues;
a worker refuses (as a bad message) an envelope of a version it does not know.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from typing import Any

from ..exceptions import BadMessage
from ..message import JSONMessage, Tick

VERSION = 1
#: The longest result id: Django's backends make 32 characters and document 64 as the most
#: (django-tasks ``get_random_id``); the result store's column holds 64.
MAX_ID_LENGTH = 64


@dataclasses.dataclass(frozen=True)
class Envelope:
    id: str
    task: str  # the Task's module path
    args: list
    kwargs: dict
    backend: str
    queue: str
    priority: int
    enqueued_at: dt.datetime
    run_after: dt.datetime | None = None
    attempt: int = 1
    tick: Tick | None = None

    def as_json(self) -> dict[str, Any]:
        data = {
            "v": VERSION,
            "id": self.id,
            "task": self.task,
            "args": self.args,
            "kwargs": self.kwargs,
            "backend": self.backend,
            "queue": self.queue,
            "priority": self.priority,
            "enqueued_at": self.enqueued_at.isoformat(),
            "run_after": self.run_after.isoformat() if self.run_after else None,
            "attempt": self.attempt,
        }
        if self.tick is not None:
            data["tick"] = {"schedule": self.tick.schedule, "at": self.tick.at.isoformat()}
        return data

    @classmethod
    def from_json(cls, data: Any) -> Envelope:
        """The envelope in ``data``; ``BadMessage`` saying what is wrong otherwise."""
        if not isinstance(data, dict):
            raise BadMessage(f"task envelope is a JSON {type(data).__name__}, not an object")
        if data.get("v") != VERSION:
            raise BadMessage(f"task envelope version {data.get('v')!r} is not supported (this worker reads {VERSION})")
        try:
            envelope = cls(
                id=_typed(data, "id", str),
                task=_typed(data, "task", str),
                args=_typed(data, "args", list),
                kwargs=_typed(data, "kwargs", dict),
                backend=_typed(data, "backend", str),
                queue=_typed(data, "queue", str),
                priority=_typed(data, "priority", int),
                enqueued_at=_datetime(data.get("enqueued_at"), "enqueued_at"),
                run_after=_datetime(data["run_after"], "run_after") if data.get("run_after") is not None else None,
                attempt=_typed(data, "attempt", int) if "attempt" in data else 1,
                tick=_tick(data.get("tick")),
            )
        except KeyError as exc:
            raise BadMessage(f"task envelope has no {exc.args[0]!r}") from None
        if not envelope.id or not envelope.task:
            raise BadMessage("task envelope has an empty id or task path")
        if len(envelope.id) > MAX_ID_LENGTH:
            # No result store could record it: refused now, not retried until retention ends.
            raise BadMessage(f"task envelope id is {len(envelope.id)} characters long, more than {MAX_ID_LENGTH}")
        if not all(part.isidentifier() for part in envelope.task.split(".")) or "." not in envelope.task:
            raise BadMessage(f"task path {envelope.task!r} is not a dotted path (module.function)")
        if envelope.attempt < 1:
            raise BadMessage(f"task envelope field 'attempt' is {envelope.attempt}, not 1 or more")
        return envelope


def seconds_until(when: dt.datetime) -> int:
    """Whole seconds from now until ``when`` (aware), rounded up; 0 if it has passed."""
    return max(0, math.ceil((when - dt.datetime.now(dt.timezone.utc)).total_seconds()))


def _typed(data: dict, key: str, kind: type) -> Any:
    value = data[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise BadMessage(f"task envelope field {key!r} is a {type(value).__name__}, not a {kind.__name__}")
    return value


def _tick(value: Any) -> Tick | None:
    if value is None:
        return None
    tick = Tick.parse(value.get("schedule"), value.get("at")) if isinstance(value, dict) else None
    if tick is None:
        raise BadMessage(f"task envelope field 'tick' is not a schedule's tick: {value!r}")
    return tick


def _datetime(value: Any, key: str) -> dt.datetime:
    """An aware time: a naive one (from another producer) is read as UTC, so that it can be
    compared with the worker's clock and stored under ``USE_TZ``."""
    try:
        when = dt.datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise BadMessage(f"task envelope field {key!r} is not an ISO 8601 time: {value!r}") from None
    if when.tzinfo is None or when.utcoffset() is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return when


class TaskMessage(JSONMessage):
    """A task queue's message class: ``get_body()`` returns the ``Envelope``."""

    def __init__(self, envelope: Envelope | None = None, body: Any = None):
        super().__init__(body=envelope.as_json() if envelope is not None else body)

    def decode_body(self, raw: str) -> Envelope:
        return Envelope.from_json(super().decode_body(raw))
