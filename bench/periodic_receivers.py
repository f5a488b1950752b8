"""The receiver of the periodic benchmark: writes (scheduled time, start time) per tick."""

import json
import os
import time

from django_sqs import receiver


@receiver("ticks")
def tick(message):
    started = time.time()
    path = os.environ.get("BENCH_TICKS_FILE")
    if path and message.tick is not None:
        with open(path, "a") as f:
            f.write(json.dumps({"tick": message.tick.at.timestamp(), "start": started, "pid": os.getpid()}) + "\n")
