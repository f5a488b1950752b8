"""Peer: Celery with its SQS transport (kombu), a no-op task, one queue.

The queue and the server come from the environment (``bench/run.py`` sets them):
BENCH_SQS_ENDPOINT, BENCH_PEER_QUEUE, BENCH_PEER_QUEUE_URL. Worker::

    celery -A bench.peer_celery worker -P solo -c 1 -Q QUEUE --without-gossip --without-mingle --without-heartbeat

Fill the queue through Celery's own send API: ``python -m bench.peer_celery fill N``.
"""

import os
import sys
from urllib.parse import urlsplit

from celery import Celery

_endpoint = urlsplit(os.environ.get("BENCH_SQS_ENDPOINT", "http://127.0.0.1:1"))
QUEUE = os.environ.get("BENCH_PEER_QUEUE", "bench-celery")

app = Celery("bench_peer_celery")
app.conf.update(
    # The host and port in the URL are the endpoint; key and secret the (fake) credentials.
    broker_url=f"sqs://bench:bench@{_endpoint.hostname}:{_endpoint.port}",
    broker_transport_options={
        "region": "us-east-1",
        "is_secure": False,
        "wait_time_seconds": 20,
        "visibility_timeout": 60,
        "predefined_queues": {
            QUEUE: {
                "url": os.environ.get("BENCH_PEER_QUEUE_URL", ""),
                "access_key_id": "bench",
                "secret_access_key": "bench",
            }
        },
    },
    broker_connection_retry_on_startup=True,
    task_default_queue=QUEUE,
    task_ignore_result=True,
    worker_enable_remote_control=False,  # no pidbox queues (SQS has no fanout)
    worker_hijack_root_logger=False,
)


@app.task(name="bench.noop")
def noop():
    """Does nothing."""


if __name__ == "__main__":
    if sys.argv[1:2] == ["fill"]:
        for _ in range(int(sys.argv[2])):
            noop.delay()
