import importlib.util

from django.apps import AppConfig
from django.conf import settings


class DjangoSQSConfig(AppConfig):
    name = "django_sqs"
    verbose_name = "Amazon SQS"

    def ready(self) -> None:
        # Only wiring here: no AWS calls and no clients at start-up.
        from . import checks  # noqa: F401  (registers the system checks)
        from .autodiscovery import autodiscover
        from .dashboard import checks as dashboard_checks  # noqa: F401
        from .dashboard import enabled as dashboard_enabled
        from .dashboard import workers as dashboard_workers

        autodiscover()
        if dashboard_enabled():
            # Workers publish themselves for the dashboard through django_sqs.signals.
            dashboard_workers.connect()
        if getattr(settings, "TASKS", None) and _tasks_framework_installed():
            # Task queues are registered like receivers' queues, so every command sees them.
            from django.core.signals import setting_changed

            from .tasks import startup

            startup.register_all()
            setting_changed.connect(startup.on_setting_changed, dispatch_uid="django_sqs.tasks.startup")


def _tasks_framework_installed() -> bool:
    # Without Django ≥ 6.0 or the backport, nothing reads TASKS (and no SQSBackend can exist).
    return any(importlib.util.find_spec(name) is not None for name in ("django.tasks", "django_tasks"))
