"""Task queues are django_sqs queues. The one naming rule:

    task queue Q of backend alias A  →  registered queue ``tasks__A__Q``

so with ``SQS_QUEUE_PREFIX = "prod"`` the task queue "default" of the backend "default" is
the SQS queue ``prod__tasks__default__default``; a FIFO task queue keeps ``.fifo`` last
(``prod__tasks__default__orders.fifo``); a priority level adds its suffix
(``prod__tasks__default__default__high``); the dead-letter queue is ``tasks__A__Q__dlq``.
Registered like any queue, so ``runreceiver``, ``sqs_status``, ``sqs_clear``, ``sqs_wait``,
``sqs_create_queues`` and ``sqs_redrive`` work on them; a receiver registered under the
same name is a ``ConfigurationError``.
"""

from __future__ import annotations

from .. import naming
from ..registered_queue import RegisteredQueue
from ..registry import register, registry
from .envelope import TaskMessage
from .running import TaskReceiver

PREFIX = "tasks"
DEAD_LETTER_SUFFIX = "dlq"


def queue_name(alias: str, task_queue: str) -> str:
    return naming.SEPARATOR.join((PREFIX, alias, task_queue))


def dead_letter_queue_name(name: str) -> str:
    return naming.build_full_name("", name, DEAD_LETTER_SUFFIX)


def register_backend(backend) -> list[RegisteredQueue]:
    """Register the queues of ``backend`` (an ``SQSBackend``); again is harmless."""
    opts = backend.sqs_options
    queues = []
    for task_queue in sorted(backend.queues):
        name = queue_name(backend.alias, task_queue)
        dlq = dead_letter_queue_name(name) if opts.dead_letter_queue else None
        rq = register(
            name,
            TaskReceiver(backend.alias, task_queue),
            visibility_timeout=opts.visibility_timeout,
            message_class=TaskMessage,
            suffixes=opts.suffixes,
            dead_letter_queue=dlq,
            # The worker moves a task whose attempts are spent itself; SQS's redrive policy
            # only catches a crash loop (TaskOptions.max_receive_count).
            max_receive_count=opts.max_receive_count_for(task_queue) if dlq else None,
        )
        # Read by the worker: one worker serves these suffixed queues in strict order.
        rq.priority_suffixes = opts.priority_suffixes or None
        queues.append(rq)
    return queues


def registered_queue(backend, task_queue: str) -> RegisteredQueue:
    name = queue_name(backend.alias, task_queue)
    if name not in registry:
        register_backend(backend)
    return registry.get(name)


def unregister_all() -> None:
    """Forget every task queue (and the dead-letter queues declared for them)."""
    for rq in list(registry):
        if isinstance(rq.receiver, TaskReceiver):
            registry.unregister(rq.name)
            if rq.dead_letter_queue:
                dlq = registry._registry.get(rq.dead_letter_queue)
                if dlq is not None and dlq.receiver is None and dlq.dead_letter_queue_of == rq.name:
                    registry.unregister(dlq.name)
