"""The backend's ``OPTIONS``, read once and checked: every problem is a system check.

    "OPTIONS": {
        "PRIORITY_LEVELS": [("high", 10), (None, -9), ("low", -100)],  # suffix, lowest priority
        "MAX_ATTEMPTS": 3,           # runs of a failing task, counting the first (at most 500)
        "BACKOFF": 10,               # seconds before the 2nd attempt, doubled for each next one
        "DEAD_LETTER_QUEUE": True,   # failed tasks end in <queue>__dlq, not deleted
        "VISIBILITY_TIMEOUT": 60,    # as for any queue (kept hidden while the task runs)
        "RESULT_STORE": "django_sqs.tasks.results.DatabaseResultStore",
    }

Reading never raises, so that a tasks module importing the backend at start-up does not
hide the mistake from ``manage.py check``: a wrong value falls back to its default and
``problems`` says what is wrong.
"""

from __future__ import annotations

import dataclasses

from .. import naming
from ..conf import MAX_VISIBILITY_TIMEOUT

#: SQS keeps a message hidden for at most 12 hours: the longest backoff there can be.
MAX_BACKOFF = MAX_VISIBILITY_TIMEOUT
#: Receives of one task message that may not run it before the safety net moves it to the
#: dead-letter queue (``queues``): the redrive policy's maxReceiveCount is MAX_ATTEMPTS + this.
RECEIVE_HEADROOM = 500
#: SQS allows a maxReceiveCount of at most 1000, and it must leave the headroom.
MAX_RECEIVE_COUNT = 1000
MAX_ATTEMPTS_LIMIT = MAX_RECEIVE_COUNT - RECEIVE_HEADROOM
#: A FIFO retry keeps its message in place, and the worker gives back the later messages of
#: the group received with it (up to 9): each failed attempt ahead is a receive of each of
#: them. Its redrive policy is SQS's 1000, which leaves the headroom beyond those receives
#: up to this MAX_ATTEMPTS: 1000 - 50 - 9 * 49 = 509 (checks: W032).
FIFO_MAX_ATTEMPTS = 50
KNOWN = ("PRIORITY_LEVELS", "MAX_ATTEMPTS", "BACKOFF", "DEAD_LETTER_QUEUE", "VISIBILITY_TIMEOUT", "RESULT_STORE")


@dataclasses.dataclass
class Problem:
    option: str
    message: str
    hint: str


@dataclasses.dataclass
class TaskOptions:
    #: ``(suffix or None, lowest priority)``, highest level first.
    priority_levels: tuple[tuple[str | None, int], ...] = ()
    max_attempts: int = 1
    backoff: int = 10
    dead_letter_queue: bool = False
    visibility_timeout: int | None = None
    result_store: str | None = None
    problems: list[Problem] = dataclasses.field(default_factory=list)

    @classmethod
    def read(cls, options: object) -> TaskOptions:
        opts = cls()
        if not isinstance(options, dict):
            opts.problems.append(Problem("OPTIONS", f"OPTIONS must be a dict, not {type(options).__name__}.", "Use a dict, e.g. {}."))
            return opts
        for key in sorted(set(options) - set(KNOWN)):
            opts.problems.append(Problem(key, f"Unknown option {key!r}.", f"Known options: {', '.join(KNOWN)}."))
        if "PRIORITY_LEVELS" in options:
            opts._read_levels(options["PRIORITY_LEVELS"])
        opts.max_attempts = opts._int(options, "MAX_ATTEMPTS", 1, MAX_ATTEMPTS_LIMIT, opts.max_attempts,
                                      "3 runs a failing task at most three times.")
        opts.backoff = opts._int(options, "BACKOFF", 0, MAX_BACKOFF, opts.backoff,
                                 "Seconds before the second attempt; doubled for each next one.")
        if "VISIBILITY_TIMEOUT" in options and options["VISIBILITY_TIMEOUT"] is not None:
            opts.visibility_timeout = opts._int(options, "VISIBILITY_TIMEOUT", 1, MAX_VISIBILITY_TIMEOUT, None,
                                                "A few times the usual run time of the tasks, e.g. 60.")
        dlq = options.get("DEAD_LETTER_QUEUE", False)
        if isinstance(dlq, bool):
            opts.dead_letter_queue = dlq
        else:
            opts.problems.append(Problem("DEAD_LETTER_QUEUE", f"DEAD_LETTER_QUEUE must be True or False, not {dlq!r}.",
                                         "True sends tasks that failed MAX_ATTEMPTS times to <queue>__dlq."))
        store = options.get("RESULT_STORE")
        if store is None or isinstance(store, str) and store:
            opts.result_store = store
        else:
            opts.problems.append(Problem("RESULT_STORE", f"RESULT_STORE must be a dotted path or None, not {store!r}.",
                                         '"django_sqs.tasks.results.DatabaseResultStore"'))
        return opts

    def _int(self, options: dict, key: str, low: int, high: int, default, hint: str):
        value = options.get(key, default)
        if value is default:
            return default
        if isinstance(value, int) and not isinstance(value, bool) and low <= value <= high:
            return value
        self.problems.append(Problem(key, f"{key} must be an int from {low} to {high}, not {value!r}.", hint))
        return default

    def _read_levels(self, value: object) -> None:
        hint = 'A list of (suffix, lowest priority), highest first: [("high", 10), (None, -9), ("low", -100)].'
        levels: list[tuple[str | None, int]] = []
        if not isinstance(value, (list, tuple)) or not value:
            self.problems.append(Problem("PRIORITY_LEVELS", "PRIORITY_LEVELS must be a non-empty list.", hint))
            return
        for item in value:
            ok = isinstance(item, (list, tuple)) and len(item) == 2
            suffix, low = item if ok else (None, None)
            ok = ok and (suffix is None or isinstance(suffix, str) and suffix and not naming.part_problem(suffix))
            ok = ok and isinstance(low, int) and not isinstance(low, bool) and -100 <= low <= 100
            if not ok:
                self.problems.append(Problem("PRIORITY_LEVELS", f"PRIORITY_LEVELS entry {item!r} is not (suffix or None, priority from -100 to 100).", hint))
                return
            levels.append((suffix, low))
        lows = [low for _, low in levels]
        suffixes = [s for s, _ in levels]
        if lows != sorted(lows, reverse=True) or len(set(lows)) != len(lows) or len(set(suffixes)) != len(suffixes):
            self.problems.append(Problem("PRIORITY_LEVELS", "PRIORITY_LEVELS must go from the highest level to the lowest, each suffix and priority once.", hint))
            return
        self.priority_levels = tuple(levels)

    # -- derived ----------------------------------------------------------------------
    @property
    def max_receive_count(self) -> int:
        """The redrive policy of a task queue with a dead-letter queue: a crash-loop safety
        net, not the attempt count. One message runs at most MAX_ATTEMPTS times (a kill
        counts as an attempt with a result store; a failure sends a new message), so a task
        that never ran reaches the dead-letter queue only after RECEIVE_HEADROOM receives
        that did not run it."""
        return self.max_attempts + RECEIVE_HEADROOM

    def max_receive_count_for(self, task_queue: str) -> int:
        """``max_receive_count``, or on a FIFO task queue SQS's most (``FIFO_MAX_ATTEMPTS``)."""
        return MAX_RECEIVE_COUNT if naming.is_fifo(task_queue) else self.max_receive_count

    @property
    def suffixes(self) -> tuple[str, ...]:
        return tuple(s for s, _ in self.priority_levels if s)

    @property
    def priority_suffixes(self) -> tuple[str | None, ...]:
        """Suffixes in the order a worker serves them, highest first; None is the queue itself."""
        return tuple(s for s, _ in self.priority_levels)

    def suffix_for(self, priority: int) -> str | None:
        """The level a task of ``priority`` goes to: the first whose lowest priority it
        reaches; below every level, the last one."""
        for suffix, low in self.priority_levels:
            if priority >= low:
                return suffix
        return self.priority_levels[-1][0] if self.priority_levels else None

    def backoff_for(self, attempt: int) -> int:
        """Seconds before the attempt after ``attempt`` (1 for the first)."""
        return min(MAX_BACKOFF, self.backoff * 2 ** (attempt - 1))
