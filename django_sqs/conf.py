"""Every django_sqs setting, read lazily from django.conf.settings with its default.

Nothing else in the package reads settings. Values are read on each access, so
``override_settings`` works; things derived from settings (the boto3 client, the queue
URL cache) listen to ``setting_changed`` themselves.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings as django_settings

#: SQS refuses a long poll longer than this (ReceiveMessage WaitTimeSeconds).
MAX_POLL_PERIOD = 20
#: SQS's visibility timeout range (seconds).
MAX_VISIBILITY_TIMEOUT = 43200
#: SQS's message size limit since August 2025: body plus attributes, in bytes.
MAX_MESSAGE_BYTES = 1_048_576

SETTING_NAMES = (
    "SQS_QUEUE_PREFIX",
    "SQS_DEFAULT_VISIBILITY_TIMEOUT",
    "SQS_POLL_PERIOD",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "SQS_REGION",
    "SQS_ENDPOINT_URL",
    "SQS_QUEUE_URLS",
    "SQS_CREATE_QUEUES",
    "SQS_EAGER",
    "SQS_STATUS_PUBLIC",
    "SQS_RECEIVER_MODULES",
)
#: The dashboard's settings (django_sqs.dashboard); read on each request, no client reset.
ADMIN_SETTING_NAMES = (
    "SQS_ADMIN",
    "SQS_ADMIN_READ_ONLY",
    "SQS_ADMIN_PEEK_LIVE_QUEUES",
    "SQS_ADMIN_OLDEST_MESSAGE_AGE",
)


class Settings:
    """One property per setting; ``conf.settings.SQS_POLL_PERIOD`` and so on."""

    def _get(self, name: str, default: Any) -> Any:
        return getattr(django_settings, name, default)

    @property
    def DEBUG(self) -> bool:
        """Django's own setting: the prefix rule (E002) depends on it."""
        return self._get("DEBUG", False)

    @property
    def SQS_RECEIVER_MODULES(self) -> list[str]:
        return self._get("SQS_RECEIVER_MODULES", ["receivers"])

    @property
    def SQS_QUEUE_PREFIX(self) -> str:
        return self._get("SQS_QUEUE_PREFIX", "")

    @property
    def SQS_DEFAULT_VISIBILITY_TIMEOUT(self) -> int:
        return self._get("SQS_DEFAULT_VISIBILITY_TIMEOUT", 60)

    @property
    def SQS_POLL_PERIOD(self) -> int:
        return self._get("SQS_POLL_PERIOD", 20)

    @property
    def AWS_ACCESS_KEY_ID(self) -> str | None:
        return self._get("AWS_ACCESS_KEY_ID", None)

    @property
    def AWS_SECRET_ACCESS_KEY(self) -> str | None:
        return self._get("AWS_SECRET_ACCESS_KEY", None)

    @property
    def AWS_SESSION_TOKEN(self) -> str | None:
        return self._get("AWS_SESSION_TOKEN", None)

    @property
    def SQS_REGION(self) -> str | None:
        return self._get("SQS_REGION", None)

    @property
    def SQS_ENDPOINT_URL(self) -> str | None:
        return self._get("SQS_ENDPOINT_URL", None)

    @property
    def SQS_QUEUE_URLS(self) -> dict[str, str]:
        return self._get("SQS_QUEUE_URLS", {})

    @property
    def SQS_CREATE_QUEUES(self) -> bool:
        return self._get("SQS_CREATE_QUEUES", True)

    @property
    def SQS_EAGER(self) -> bool:
        return self._get("SQS_EAGER", False)

    @property
    def SQS_STATUS_PUBLIC(self) -> bool:
        return self._get("SQS_STATUS_PUBLIC", False)

    @property
    def SQS_ADMIN(self) -> bool:
        return self._get("SQS_ADMIN", True)

    @property
    def SQS_ADMIN_READ_ONLY(self) -> bool:
        return self._get("SQS_ADMIN_READ_ONLY", False)

    @property
    def SQS_ADMIN_PEEK_LIVE_QUEUES(self) -> bool:
        return self._get("SQS_ADMIN_PEEK_LIVE_QUEUES", False)

    @property
    def SQS_ADMIN_OLDEST_MESSAGE_AGE(self) -> bool:
        return self._get("SQS_ADMIN_OLDEST_MESSAGE_AGE", False)

    @property
    def SQS_WORKERS(self) -> list[dict[str, Any]]:
        """Worker groups for ``runreceiver`` (many queues in one process); [] keeps one
        worker process per queue."""
        return self._get("SQS_WORKERS", [])


settings = Settings()


def is_module_list(value: Any) -> bool:
    """What ``SQS_RECEIVER_MODULES`` must be: a list (or tuple) of module names."""
    return isinstance(value, (list, tuple)) and all(isinstance(m, str) and m.isidentifier() for m in value)


def receiver_modules() -> list[str]:
    """The module names imported from each app; the default when the setting is invalid
    (the system check E021 reports it: discovery runs before the checks)."""
    modules = settings.SQS_RECEIVER_MODULES
    return list(modules) if is_module_list(modules) else ["receivers"]
