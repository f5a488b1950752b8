"""The benchmark's receivers (discovered like any app's ``receivers`` module)."""

import os
import time

from django_sqs import receiver, register

#: Time a "slow" message keeps its receiver busy (the SIGTERM-while-busy case).
SLOW_SECONDS = 0.05


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


# Queues the idle and SIGTERM cases serve: a no-op receiver each, their own counts.
for _name in ("idle", "idle2", "term", "term2"):
    register(_name, noop.direct)

# Sent to by the send case; never received.
register("send")
