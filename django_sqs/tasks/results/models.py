from django.db import models


class TaskResultRecord(models.Model):
    """One enqueued task and what became of it (``SQSBackend.get_result`` reads it)."""

    id = models.CharField(primary_key=True, max_length=64)
    backend = models.CharField(max_length=100)
    task_path = models.CharField(max_length=255)
    queue_name = models.CharField(max_length=80)
    priority = models.IntegerField(default=0)
    status = models.CharField(max_length=10, db_index=True)
    args = models.JSONField(default=list)
    kwargs = models.JSONField(default=dict)
    return_value = models.JSONField(null=True)
    #: ``[{"exception_class_path": ..., "traceback": ...}]``, one per failed attempt.
    errors = models.JSONField(default=list)
    worker_ids = models.JSONField(default=list)
    enqueued_at = models.DateTimeField(null=True, db_index=True)
    started_at = models.DateTimeField(null=True)
    finished_at = models.DateTimeField(null=True)
    last_attempted_at = models.DateTimeField(null=True)
    run_after = models.DateTimeField(null=True)
    #: The SQS message id of the latest attempt: tells a message that comes back after its
    #: worker was killed (the same id) from another copy of the task (another id).
    message_id = models.CharField(max_length=100, blank=True, default="")

    class Meta:
        ordering = ["-enqueued_at"]
        verbose_name = "task result"

    def __str__(self) -> str:
        return f"{self.task_path} {self.id} {self.status}"
