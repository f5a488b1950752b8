"""System checks of the dashboard's settings (django_sqs.E060–E069, W060–W069)."""

from __future__ import annotations

from django.core.checks import Tags, Warning, register

from ..checks import not_boolean
from ..conf import ADMIN_SETTING_NAMES, settings


@register(Tags.compatibility)
def check_dashboard_settings(app_configs=None, **kwargs) -> list:
    problems = not_boolean(ADMIN_SETTING_NAMES, "django_sqs.E060")
    # Also under SQS_ADMIN_READ_ONLY: it hides the actions, not the peeks, and a peek is what
    # bumps the receive counts of live messages.
    if settings.SQS_ADMIN_PEEK_LIVE_QUEUES is True:
        problems.append(Warning(
            "SQS_ADMIN_PEEK_LIVE_QUEUES lets staff with the peek permission receive messages of live "
            "queues: each peek adds one to their receive count, and a message peeked maxReceiveCount "
            "times goes to the dead-letter queue without ever being handled.",
            hint="Turn it off, or silence django_sqs.W060 in SILENCED_SYSTEM_CHECKS once you accept that.",
            id="django_sqs.W060",
        ))
    return problems
