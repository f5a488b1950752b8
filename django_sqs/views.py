"""``status``: the queue report of ``sqs_status`` as plain text, for staff users.

Wire it with ``path("sqs/", include("django_sqs.urls"))``. Anonymous users are sent to
the login page (``LOGIN_URL``) when the project has one, else get a plain-text 403;
logged-in users who are not staff get 403; unless ``SQS_STATUS_PUBLIC = True``. When SQS
cannot be asked the page says which request failed and its error code, never AWS's text
(it can name the account and the role); the details go to the log. The report is kept in Django's default cache for
``CACHE_SECONDS``, so reloading the page (or many users doing so) cannot hammer SQS.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import threading
from urllib.parse import urlsplit

from django.conf import settings as django_settings
from django.contrib.auth.views import redirect_to_login
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import resolve_url
from django.urls import Resolver404, resolve
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from . import status as status_report
from .conf import settings
from .exceptions import SQSError
from .registry import registry

logger = logging.getLogger("django_sqs")

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
            if login_page_exists():
                return redirect_to_login(request.get_full_path())
            return HttpResponseForbidden(
                "The SQS status is for staff users. Log in first (this site has no login page at "
                "LOGIN_URL: wire one, e.g. the admin's, and set LOGIN_URL to it).\n",
                content_type="text/plain; charset=utf-8",
            )
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
        # AWS's message can hold the account id and the role ARN: the page names the failed
        # request and its error code only; whoever reads the log gets the rest.
        logger.error("status report failed: %s", exc, exc_info=True)
        failed = f"{exc.action} failed" if getattr(exc, "action", "") else "a request failed"
        code = getattr(exc, "code", "") or type(exc).__name__
        return 503, (
            f"{heading}The status could not be read from SQS: {failed} ({code}). "
            "The details are in the server log (logger django_sqs).\n"
        )
    if not rows:
        return 200, heading + "No queues are registered.\n"
    return 200, heading + "\n".join(status_report.format_table(rows)) + "\n"


def login_page_exists() -> bool:
    """True when ``LOGIN_URL`` is a page of this site (or another site): sending an
    anonymous user there ends on a login form, not on a 404."""
    target = urlsplit(resolve_url(django_settings.LOGIN_URL))
    if target.netloc:
        return True
    try:
        resolve(target.path)
    except Resolver404:
        return False
    return True


def _cache_key() -> str:
    # Another prefix, endpoint or set of queues (override_settings, tests) is another report.
    queues = ",".join(f"{rq.name}:{'/'.join(rq.suffixes)}:{rq.dead_letter_queue or ''}" for rq in registry)
    facts = f"{settings.SQS_QUEUE_PREFIX}|{settings.SQS_ENDPOINT_URL}|{settings.SQS_REGION}|{queues}"
    return "django_sqs.status." + hashlib.sha256(facts.encode()).hexdigest()
