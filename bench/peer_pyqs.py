"""Peer: PyQS, a no-op task on one queue.

PyQS takes no endpoint option: boto3 finds the local server in AWS_ENDPOINT_URL_SQS,
which ``bench/run.py`` sets, with BENCH_PEER_QUEUE. Worker::

    pyqs QUEUE --simple-worker --concurrency 1

Fill the queue through PyQS's own send API: ``python -m bench.peer_pyqs fill N``.
"""

import os
import sys

from pyqs import task

QUEUE = os.environ.get("BENCH_PEER_QUEUE", "bench-pyqs")


@task(queue=QUEUE)
def noop():
    """Does nothing."""


if __name__ == "__main__":
    # PyQS names a task by its module: send the one of bench.peer_pyqs, not of __main__.
    from bench.peer_pyqs import noop as imported

    if sys.argv[1:2] == ["fill"]:
        for _ in range(int(sys.argv[2])):
            imported.delay()
