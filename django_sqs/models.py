"""django_sqs's models: the dashboard's unmanaged ``Queue`` (no table; see
``django_sqs.dashboard``). Django imports this module to find an app's models."""

from .dashboard.models import Queue

__all__ = ["Queue"]
