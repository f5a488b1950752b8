"""``Queue``: an unmanaged model with no table, for the admin index entry and permissions."""

from django.db import models

#: Permission codenames (``django_sqs.<codename>``) by the action they allow.
PERMISSIONS = {
    "view": "view_queue",
    "peek": "peek_queue",
    "redrive": "redrive_queue",
    "retry_delete": "retry_delete_message",
    "purge": "purge_queue",
}


class Queue(models.Model):
    """One SQS queue as the dashboard names it (``name`` is its full SQS name).

    Never saved: instances exist only to name a queue in an admin ``LogEntry``.
    """

    name = models.CharField(primary_key=True, max_length=80)

    class Meta:
        managed = False
        app_label = "django_sqs"
        db_table = "django_sqs_dashboard_queue"  # never created (managed = False)
        verbose_name = "SQS queue"
        verbose_name_plural = "SQS queues"
        # "view" is Django's own; no add/change/delete: queues are declared in code.
        default_permissions = ("view",)
        permissions = [
            ("peek_queue", "Can peek at the messages of a dead-letter queue"),
            ("redrive_queue", "Can redrive a dead-letter queue (and cancel a redrive)"),
            ("retry_delete_message", "Can retry or delete one message of a dead-letter queue"),
            ("purge_queue", "Can purge a queue"),
        ]

    def __str__(self) -> str:
        return self.name
