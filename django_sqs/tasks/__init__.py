"""A Django tasks backend on SQS (docs/topics/tasks.rst).

    TASKS = {"default": {"BACKEND": "django_sqs.tasks.SQSBackend", "QUEUES": ["default"]}}

Tasks run inside ``runreceiver``: every task queue is a django_sqs queue.
"""

from .backend import SQSBackend
from .enqueueing import enqueue_many, enqueue_on_commit

__all__ = ["SQSBackend", "enqueue_many", "enqueue_on_commit"]
