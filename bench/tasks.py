"""The benchmark's Django task: a no-op, run by django_sqs.tasks and by django-tasks-sqs."""

try:
    from django.tasks import task
except ImportError:  # Django < 6.0: the backport
    from django_tasks import task


@task(queue_name="noop")
def noop_task(n: int = 0) -> None:
    """Does nothing: what is left is the backend's and the worker's own cost."""
