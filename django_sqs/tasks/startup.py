"""Task queues registered from ``TASKS``: at start-up (``AppConfig.ready``) and again when
``TASKS`` changes (``override_settings`` in tests)."""

from __future__ import annotations

from django.conf import settings
from django.utils.module_loading import import_string

from . import queues
from .backend import SQSBackend
from .compat import task_backends


def sqs_backend_aliases() -> list[str]:
    """The aliases of ``TASKS`` whose backend is an ``SQSBackend`` (or a subclass)."""
    aliases = []
    for alias, params in (getattr(settings, "TASKS", None) or {}).items():
        try:
            cls = import_string(params["BACKEND"])
        except (ImportError, KeyError, TypeError):
            continue  # Django's own check reports a backend that cannot be loaded
        if isinstance(cls, type) and issubclass(cls, SQSBackend):
            aliases.append(alias)
    return aliases


def register_all() -> None:
    """Register the queues of every SQS task backend in ``TASKS``."""
    for alias in sqs_backend_aliases():
        queues.register_backend(task_backends[alias])


def on_setting_changed(*, setting: str, **kwargs) -> None:
    if setting == "TASKS":
        queues.unregister_all()
        register_all()
