"""``DatabaseResultStore``: task results in ``TaskResultRecord`` rows, across processes."""

from __future__ import annotations

from django.db import IntegrityError
from django.utils.module_loading import import_string

from ..compat import Task, TaskError, TaskResult, TaskResultDoesNotExist, TaskResultStatus


class DatabaseResultStore:
    def __init__(self, backend):
        self.backend = backend

    @property
    def model(self):
        # Imported late: backends are created while apps load (tasks modules).
        from .models import TaskResultRecord

        return TaskResultRecord

    def create(self, results: list[TaskResult]) -> None:
        self.model.objects.bulk_create([self.model(**self._fields(r)) for r in results])

    def discard(self, results: list[TaskResult]) -> None:
        if results:
            self.model.objects.filter(id__in=[r.id for r in results]).delete()

    def save(self, result: TaskResult, status: TaskResultStatus | None = None, message_id: str | None = None) -> None:
        """Write ``result`` (with ``status`` instead of its own, when given); ``message_id``:
        the SQS message of the attempt starting now."""
        fields = self._fields(result)
        if message_id is not None:
            fields["message_id"] = message_id
        if status is not None:
            fields["status"] = status
            if status == TaskResultStatus.READY:
                fields["finished_at"] = None
        record_id = fields.pop("id")
        # One UPDATE in autocommit, not update_or_create's read-then-write transaction
        # (which SQLite refuses at once, "database is locked", when another process writes).
        if not self.model.objects.filter(id=record_id).update(**fields):
            try:
                self.model.objects.create(id=record_id, **fields)  # enqueued without this store
            except IntegrityError:
                self.model.objects.filter(id=record_id).update(**fields)

    def claim(self, result: TaskResult, message_id: str, seen: TaskResult | None, seen_message_id: str) -> bool:
        """Record the start of an attempt (``result``, RUNNING, from SQS message
        ``message_id``) only if the row is still as it was read (``seen``): one UPDATE,
        so that of two copies of a task received at once, one runs. False if it changed."""
        fields = self._fields(result)
        fields["message_id"] = message_id
        record_id = fields.pop("id")
        if seen is None:  # enqueued without this store (or its row was deleted)
            try:
                self.model.objects.create(id=record_id, **fields)
            except IntegrityError:
                return False
            return True
        unchanged = self.model.objects.filter(
            id=record_id, status=seen.status, message_id=seen_message_id, started_at=seen.started_at,
        )
        return bool(unchanged.update(**fields))

    def moved(self, result_id: str, message_id: str) -> None:
        """The task's message was moved to the dead-letter queue as ``message_id``."""
        self.model.objects.filter(id=result_id).update(message_id=message_id)

    def load(self, result_id: str) -> TaskResult | None:
        try:
            return self.get(result_id)
        except TaskResultDoesNotExist:
            return None

    def load_attempt(self, result_id: str) -> tuple[TaskResult | None, str]:
        """The stored result (None if there is none) and the SQS message id of its latest attempt."""
        record = self._record(result_id)
        if record is None:
            return None, ""
        try:
            return self._result(record), record.message_id
        except TaskResultDoesNotExist:
            return None, ""

    def get(self, result_id: str) -> TaskResult:
        record = self._record(result_id)
        if record is None:
            raise TaskResultDoesNotExist(result_id)
        return self._result(record)

    def _record(self, result_id: str):
        return self.model.objects.filter(id=result_id, backend=self.backend.alias).first()

    def _result(self, record) -> TaskResult:
        task = import_string(record.task_path)
        if not isinstance(task, Task):
            raise TaskResultDoesNotExist(f"{record.id}: {record.task_path!r} is not a task")
        task = task.using(
            queue_name=record.queue_name, priority=record.priority, backend=record.backend,
            run_after=record.run_after,
        )
        result = TaskResult(
            task=task,
            id=record.id,
            status=TaskResultStatus(record.status),
            enqueued_at=record.enqueued_at,
            started_at=record.started_at,
            finished_at=record.finished_at,
            last_attempted_at=record.last_attempted_at,
            args=record.args,
            kwargs=record.kwargs,
            backend=record.backend,
            errors=[TaskError(**error) for error in record.errors],
            worker_ids=list(record.worker_ids),
        )
        object.__setattr__(result, "_return_value", record.return_value)
        return result

    @staticmethod
    def _fields(result: TaskResult) -> dict:
        task = result.task
        return {
            "id": result.id,
            "backend": result.backend,
            "task_path": task.module_path,
            "queue_name": task.queue_name,
            "priority": task.priority,
            "status": result.status,
            "args": result.args,
            "kwargs": result.kwargs,
            "return_value": result._return_value,
            "errors": [
                {"exception_class_path": e.exception_class_path, "traceback": e.traceback}
                for e in result.errors
            ],
            "worker_ids": list(result.worker_ids),
            "enqueued_at": result.enqueued_at,
            "started_at": result.started_at,
            "finished_at": result.finished_at,
            "last_attempted_at": result.last_attempted_at,
            "run_after": task.run_after,
        }
