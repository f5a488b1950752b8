"""Who may do what: one Django permission per action (``models.PERMISSIONS``)."""

from __future__ import annotations

from .models import PERMISSIONS


def allowed(request, action: str) -> bool:
    """True when the user is active staff holding the permission of ``action`` (superusers hold all)."""
    user = request.user
    return user.is_active and user.is_staff and user.has_perm(f"django_sqs.{PERMISSIONS[action]}")
