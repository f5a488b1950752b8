"""``SQSBackend``: Django's task backend contract on django_sqs queues.

    TASKS = {"default": {"BACKEND": "django_sqs.tasks.SQSBackend", "QUEUES": ["default"], "OPTIONS": {}}}

``__init__`` only reads its settings: tasks modules create backends when they are imported
(``@task`` validates), long before any queue or database may be reached.
"""

from __future__ import annotations

from django.utils.functional import cached_property
from django.utils.module_loading import import_string

from .. import naming
from . import checks, enqueueing
from .compat import BaseTaskBackend, InvalidTask
from .options import TaskOptions


class SQSBackend(BaseTaskBackend):
    supports_defer = True  # run_after at any distance
    supports_async_task = True
    # Both depend on OPTIONS and are set per instance in __init__.
    supports_get_result = False
    supports_priority = False

    def __init__(self, alias, params):
        super().__init__(alias, params)
        self.sqs_options = TaskOptions.read(self.options)
        self.supports_priority = bool(self.sqs_options.priority_levels)
        self.supports_get_result = self.sqs_options.result_store is not None
        #: Tasks rebuilt from messages and validated, by path, queue, priority and backend.
        self.loaded_tasks: dict = {}

    @cached_property
    def result_store(self):
        """The result store of OPTIONS["RESULT_STORE"], or None (nothing touches the database)."""
        if self.sqs_options.result_store is None:
            return None
        return import_string(self.sqs_options.result_store)(self)

    def validate_task(self, task) -> None:
        try:
            super().validate_task(task)
        except InvalidTask as exc:
            # Django's messages name neither the task nor the setting to change.
            raise InvalidTask(f"{task.module_path}: {exc}{self._hint(task)}") from exc
        if task.run_after is not None and naming.is_fifo(task.queue_name):
            raise InvalidTask(
                f"Queue {task.queue_name!r} is FIFO: SQS cannot delay one message of a FIFO queue, "
                "so run_after is not supported there."
            )

    def _hint(self, task) -> str:
        where = f"TASKS[{self.alias!r}]"
        if self.queues and task.queue_name not in self.queues:
            return (
                f" {where}[\"QUEUES\"] is {sorted(self.queues)!r}: add {task.queue_name!r} there "
                "(and serve it with a worker), or use one of those queues."
            )
        if task.priority and not self.supports_priority:
            return f' Priorities need {where}["OPTIONS"]["PRIORITY_LEVELS"].'
        return ""

    def enqueue(self, task, args, kwargs):
        self.validate_task(task)
        result = enqueueing.new_result(self, task, args, kwargs)
        enqueueing.send_results(self, task, [result])
        return result

    def send_on(self, task, envelope, *, delay_seconds: int) -> None:
        """Send a received task that is not due yet on again (the worker's deferral)."""
        enqueueing.send_envelopes(self, task, [envelope], delay_seconds=delay_seconds)

    def get_result(self, result_id):
        if self.result_store is None:
            return super().get_result(result_id)  # NotImplementedError, as Django's base
        return self.result_store.get(result_id)

    def check(self, **kwargs):
        return [*super().check(**kwargs), *checks.check_backend(self)]
