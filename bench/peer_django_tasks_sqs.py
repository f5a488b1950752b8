"""Peer: django-tasks-sqs, the no-op task of bench/tasks.py under the TASKS alias "peer"
(bench/settings.py; its queue URL in BENCH_PEER_QUEUE_URL). Worker::

    python -m django sqs_worker --backend peer --queue noop --max-messages 10

Fill the queue through its own bulk API: ``python -m bench.peer_django_tasks_sqs fill N``.
"""

import sys

if __name__ == "__main__" and sys.argv[1:2] == ["fill"]:
    import django

    django.setup()
    from django.tasks import task_backends

    from bench.tasks import noop_task

    task = noop_task.using(backend="peer")
    task_backends["peer"].enqueue_many([(task, (i,), {}) for i in range(int(sys.argv[2]))])
