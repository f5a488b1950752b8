"""Which attempt a received task message is, counted where attempts really happen.

SQS's ``ApproximateReceiveCount`` counts every receive: the look-ahead a stopping worker
gives back, an abandoned long poll, ``--burst`` and ``--message-limit`` give-backs, a FIFO
group's later messages given back, keeps while the result store is down. None of those ran
the task, so none of them is an attempt. Instead:

- the envelope carries the attempt its message is for (1 when enqueued); a retry is a new
  message for the next attempt;
- with a result store, ``worker_ids`` holds one entry per attempt that started, so a run cut
  off by a kill is counted too: the message comes back (the same SQS message id) and finds
  its result still RUNNING. The store also tells a copy of the task (another message id,
  left by a crash between a re-send and the delete of the original) from the message of the
  attempt in progress, and a finished task from one still to run.

``decide`` is the whole rule, without I/O, so that each case is a test.
"""

from __future__ import annotations

import dataclasses

from .compat import TaskResult, TaskResultStatus

RUN = "run"
#: Not run: another copy of the task runs, or its attempt already happened (the message is deleted).
SKIP = "skip"
#: Not run: the attempt cut off by a kill was the last one (the task fails, as after an exception).
GIVE_UP = "give up"


class AttemptLost(Exception):
    """Recorded in a result's ``errors`` for an attempt whose worker stopped before it
    finished (killed, out of memory, host lost): the attempt counts."""


@dataclasses.dataclass(frozen=True)
class Verdict:
    action: str
    attempt: int
    reason: str = ""
    #: True when the stored attempt ``attempt - 1`` was cut off (it is recorded as lost).
    lost: bool = False


def decide(
    *,
    envelope_attempt: int,
    message_id: str,
    stored: TaskResult | None,
    stored_message_id: str,
    max_attempts: int,
) -> Verdict:
    """What to do with a task message for ``envelope_attempt``, given its stored result."""
    if stored is None:  # no store, or enqueued without one
        return Verdict(RUN, envelope_attempt)
    started = len(stored.worker_ids)  # attempts that started, killed ones included
    # No message id stored: the row was written by a version that recorded none, whose
    # retries kept the same message (and whose envelopes had no "attempt"), so the message
    # back is the one its attempts ran from. Skipping it would delete a task still to retry.
    same_message = not stored_message_id or stored_message_id == message_id
    status = stored.status
    if status == TaskResultStatus.SUCCESSFUL:
        return Verdict(SKIP, started, "it already succeeded")
    if status == TaskResultStatus.RUNNING:
        if not same_message:
            return Verdict(SKIP, started, f"attempt {started} runs from message {stored_message_id}")
        # This very message started attempt ``started`` and came back: its worker was cut off.
        if started >= max_attempts:
            return Verdict(GIVE_UP, started, "its last attempt was cut off", lost=True)
        return Verdict(RUN, started + 1, lost=True)
    if envelope_attempt > started:  # a retry, or a task redriven from the dead-letter queue
        return Verdict(RUN, envelope_attempt)
    if status == TaskResultStatus.FAILED and same_message:
        # Its last attempt failed, and its move to the dead-letter queue (or its delete)
        # did not happen: do that now.
        return Verdict(GIVE_UP, started, "its attempts are spent")
    if status == TaskResultStatus.READY and same_message:
        # This message's own attempt failed and it is back: kept for a retry (FIFO), or its
        # worker stopped before the retry was sent and the message deleted. Run it now.
        return Verdict(RUN, started + 1)
    return Verdict(SKIP, started, f"attempt {envelope_attempt} already ran")
