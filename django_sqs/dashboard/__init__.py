"""The SQS dashboard inside the Django admin ("SQS queues" on the admin index).

Design: an unmanaged model, ``Queue`` (``models.py``), exists only to give the admin an
index entry and Django real permissions (one per action) that can be granted to users and
groups like any other; it has no table and is never queried. Its ``ModelAdmin``
(``admin.py``) replaces every model URL with the dashboard's own views (``views.py``), all
wrapped in ``admin_site.admin_view``: the admin's login, ``has_permission``, CSRF and
never-cache apply. This is django-rq's approach; custom admin views without a model would
have no permissions to grant.

The modules, top to bottom: ``admin`` (URLs, permissions) → ``views`` (pages, forms,
audit) → ``inventory`` (the queue list), ``browsing`` (peeking at messages), ``actions``
(redrive, retry, delete, purge) → ``workers`` (what workers publish) and ``errors``.
"""

from django.apps import apps

from ..conf import settings


def enabled() -> bool:
    """True when the dashboard is on: ``SQS_ADMIN`` and ``django.contrib.admin`` installed."""
    return settings.SQS_ADMIN is True and apps.is_installed("django.contrib.admin")
