"""The benchmark's receivers (discovered like any app's ``receivers`` module)."""

import os
import time

from django_sqs import receiver, register

from .queues import NOOP_QUEUES, PRIORITY_LATENCY, PRIORITY_ORDER, WEIGHTED_LATENCY

#: Time a "slow" message keeps its receiver busy (SIGTERM while busy; the threads drain):
#: a wait, as on the network, not CPU work.
SLOW_SECONDS = 0.05
#: Time an "order" message keeps its receiver busy, so a backlog lasts long enough for
#: messages of a higher queue to arrive in the middle of it.
ORDER_SECONDS = 0.005


@receiver("noop")
def noop(message):
    """Does nothing: what is left is the worker's own cost."""


@receiver("latency")
def latency(message):
    """Appends "<sent at> <started at>" (``time.time()``) to $BENCH_RECORD."""
    started = time.time()
    with open(os.environ["BENCH_RECORD"], "a") as f:
        f.write(f"{message.get_body()} {started}\n")


@receiver("slow")
def slow(message):
    time.sleep(SLOW_SECONDS)


def order(message):
    """Appends "<queue> <id> <SentTimestamp> <ApproximateFirstReceiveTimestamp> <started
    at>" to $BENCH_RECORD (SQS's times in ms, the start in s; one short line per write,
    appended whole); then waits ORDER_SECONDS."""
    started = time.time()
    attrs = message.attributes
    line = (
        f"{message.queue_name} {message.id} {attrs.get('SentTimestamp', 0)} "
        f"{attrs.get('ApproximateFirstReceiveTimestamp', 0)} {started}\n"
    )
    with open(os.environ["BENCH_RECORD"], "a") as f:
        f.write(line)
    time.sleep(ORDER_SECONDS)


# Queues the idle and SIGTERM cases serve: a no-op receiver each, their own counts.
for _name in NOOP_QUEUES:
    register(_name, noop.direct)
for _name in (*PRIORITY_LATENCY, *WEIGHTED_LATENCY):
    register(_name, latency.direct)
for _name in PRIORITY_ORDER:
    register(_name, order)

# The FIFO group case: one group's backlog, a no-op receiver.
register("fifo_noop.fifo", noop.direct)

# Sent to by the send case; never received.
register("send")
