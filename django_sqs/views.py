"""``status``: the queue report of ``sqs_status`` as plain text, for staff users.

Wire it with ``path("sqs/", include("django_sqs.urls"))``. Anonymous users are sent to
the login page and logged-in users who are not staff get 403, unless
``SQS_STATUS_PUBLIC = True``. The report is kept in Django's default cache for
``CACHE_SECONDS``, so reloading the page (or many users doing so) cannot hammer SQS.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading

from django.contrib.auth.views import redirect_to_login
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from . import status as status_report
from .conf import settings
from .exceptions import SQSError
from .registry import registry

#: Seconds one report is served from the cache before SQS is asked again.
CACHE_SECONDS = 5

_lock = threading.Lock()  # one report at a time per process: concurrent requests share it


@require_safe
@never_cache
def status(request: HttpRequest) -> HttpResponse:
    """The status report as ``text/plain``; 503 when SQS cannot be asked."""
    if not settings.SQS_STATUS_PUBLIC:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not (user.is_active and user.is_staff):
            raise PermissionDenied("The SQS status is for staff users.")
    code, text = cached_report()
    return HttpResponse(text, status=code, content_type="text/plain; charset=utf-8")


def cached_report() -> tuple[int, str]:
    """``(HTTP status, text)`` from the cache, made afresh when older than CACHE_SECONDS.

    Failures are cached too: an unreachable SQS is not asked again on every reload.
    """
    key = _cache_key()
    found = cache.get(key)
    if found is None:
        with _lock:
            found = cache.get(key)
            if found is None:
                found = make_report()
                cache.set(key, found, CACHE_SECONDS)
    return tuple(found)


def make_report() -> tuple[int, str]:
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    heading = f"SQS queues as of {now} (refreshed at most every {CACHE_SECONDS} s)\n\n"
    try:
        rows = status_report.gather()
    except SQSError as exc:
        return 503, f"{heading}The status could not be read from SQS: {exc}\n"
    if not rows:
        return 200, heading + "No queues are registered.\n"
    return 200, heading + "\n".join(status_report.format_table(rows)) + "\n"


def _cache_key() -> str:
    # Another prefix, endpoint or set of queues (override_settings, tests) is another report.
    queues = ",".join(f"{rq.name}:{'/'.join(rq.suffixes)}:{rq.dead_letter_queue or ''}" for rq in registry)
    facts = f"{settings.SQS_QUEUE_PREFIX}|{settings.SQS_ENDPOINT_URL}|{settings.SQS_REGION}|{queues}"
    return "django_sqs.status." + hashlib.sha256(facts.encode()).hexdigest()
