"""The dashboard's pages, each called by ``QueueAdmin`` inside ``admin_site.admin_view``.

Reading pages need ``view_queue`` (peeking ``peek_queue``); every action is a POST
behind a confirmation page (GET) that names the queue and how many messages it touches,
needs its own permission, is refused under ``SQS_ADMIN_READ_ONLY``, and is written to the
admin's ``LogEntry``. SQS errors become a sentence on the page (``errors.describe``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from django.contrib import messages
from django.contrib.admin.models import CHANGE, DELETION, LogEntry
from django.contrib.admin.utils import unquote
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse

from .. import status
from ..conf import settings
from ..exceptions import SQSError
from ..registry import registry
from . import actions, browsing, enabled, errors, inventory, schedules, workers
from .models import Queue
from .permissions import allowed

#: action → (permission, what it is called on the page, whether it needs a dead-letter queue)
ACTIONS = {
    "redrive": ("redrive", "Redrive all messages", True),
    "cancel": ("redrive", "Cancel the redrive", True),
    "retry": ("retry_delete", "Retry one message", True),
    "delete": ("retry_delete", "Delete one message", False),
    "purge": ("purge", "Purge the queue", False),
}


@dataclasses.dataclass
class Target:
    """A registered SQS queue named in a URL."""

    entry: status.Entry

    @property
    def name(self) -> str:
        return self.entry.full_name

    @property
    def is_dead_letter_queue(self) -> bool:
        return self.entry.queue.dead_letter_queue_of is not None

    @property
    def sources(self) -> list:
        """The registered queues whose dead-letter queue this is: usually one, but SQS lets
        several share one (each message then goes back to the queue it came from)."""
        if not self.is_dead_letter_queue:
            return []
        return [rq for rq in registry if rq.dead_letter_queue == self.entry.queue.name]

    @property
    def source_names(self) -> list[str]:
        return [rq.full_name(self.entry.suffix) for rq in self.sources]

    @property
    def source_name(self) -> str | None:
        """Where its messages go back to, as the page says it."""
        names = self.source_names
        if len(names) > 1:
            return f"the queue each came from ({' or '.join(names)})"
        return names[0] if names else None

    @property
    def peekable(self) -> bool:
        return self.is_dead_letter_queue or settings.SQS_ADMIN_PEEK_LIVE_QUEUES is True


def _target(name: str) -> Target:
    # The admin's own links (LogEntry.get_admin_url) quote the name ("_" → "_5F"). The name
    # as written wins: "jobs_5F1" is that queue, not "jobs_1", when both are registered.
    entries = {entry.full_name: entry for entry in status.layout(registry)}
    entry = entries.get(name) or entries.get(unquote(name))
    if entry is None:
        raise Http404("No registered queue has this SQS name.")
    return Target(entry)


def _require(request, action: str) -> None:
    if not enabled() or not allowed(request, "view") or not allowed(request, action):
        raise PermissionDenied


def _can(request, action: str) -> bool:
    return not settings.SQS_ADMIN_READ_ONLY and allowed(request, action)


def _context(request, model_admin, title: str, target: Target | None = None, **extra) -> dict:
    return {
        **model_admin.admin_site.each_context(request),
        "title": title,
        "opts": Queue._meta,
        "app_label": "django_sqs",
        "target": target,
        "read_only": settings.SQS_ADMIN_READ_ONLY,
        "can_peek": allowed(request, "peek"),
        "can": {action: _can(request, perm) for action, (perm, _, _) in ACTIONS.items()},
        **extra,
    }


def queue_list(request, model_admin):
    _require(request, "view")
    error = rows = unregistered = None
    try:
        rows = inventory.rows()
        unregistered = inventory.unregistered()
    except SQSError as exc:
        error = errors.describe(exc, "read the queues from SQS")
    context = _context(
        request, model_admin, "SQS queues",
        rows=rows, unregistered=unregistered, error=error,
        show_age=settings.SQS_ADMIN_OLDEST_MESSAGE_AGE is True,
        cache_seconds=inventory.CACHE_SECONDS,
    )
    return TemplateResponse(request, "django_sqs/dashboard/queue_list.html", context, status=503 if error else 200)


def queue_page(request, model_admin, name: str):
    _require(request, "view")
    target = _target(name)
    name = target.name
    error = row = None
    tasks: list = []
    try:
        row = inventory.row(name)
        if row.exists and target.is_dead_letter_queue:
            tasks = actions.move_tasks(name)
    except SQSError as exc:
        error = errors.describe(exc, f"read the queue {name} from SQS")
    history = LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(Queue), object_id=name
    ).select_related("user")[:10]
    context = _context(
        request, model_admin, f"SQS queue {name}", target,
        row=row, error=error, move_tasks=tasks, history=history,
        workers=_workers(name), schedules=schedules.for_queue(target.entry.queue.name),
        attributes=sorted((row.attributes or {}).items()) if row else [],
    )
    return TemplateResponse(request, "django_sqs/dashboard/queue_page.html", context, status=503 if error else 200)


def messages_page(request, model_admin, name: str):
    """GET: what a peek does, and a button; POST: the page of messages (receives them)."""
    _require(request, "peek")
    target = _target(name)
    name = target.name
    if not target.peekable:
        raise PermissionDenied("Peeking at a live queue is off (SQS_ADMIN_PEEK_LIVE_QUEUES).")
    page = error = None
    if request.method == "POST":
        try:
            number = int(request.POST.get("page", "1"))
        except ValueError:
            number = 1
        try:
            page = browsing.peek(target.entry.queue, name, number)
        except SQSError as exc:
            error = errors.describe(exc, f"peek at the messages of {name}")
    context = _context(
        request, model_admin, f"Messages of {name}", target,
        page=page, error=error, hold_seconds=browsing.HOLD_SECONDS, max_pages=browsing.MAX_PAGES,
        shown_characters=browsing.SHOWN_CHARACTERS, message_class=target.entry.queue.message_class.__name__,
    )
    return TemplateResponse(request, "django_sqs/dashboard/messages.html", context, status=503 if error else 200)


def action_page(request, model_admin, name: str, action: str):
    """GET: the confirmation page; POST: the action, its LogEntry, back to the queue page."""
    if action not in ACTIONS:
        raise Http404("No such action.")
    permission, label, needs_dlq = ACTIONS[action]
    _require(request, permission)
    if settings.SQS_ADMIN_READ_ONLY:
        raise PermissionDenied("The SQS dashboard is read-only (SQS_ADMIN_READ_ONLY).")
    target = _target(name)
    name = target.name
    if needs_dlq and not target.is_dead_letter_queue:
        raise Http404("This action is for dead-letter queues.")
    if action == "delete" and not target.peekable:
        raise PermissionDenied
    params = request.POST if request.method == "POST" else request.GET
    message_id = params.get("message", "")[:128]
    handle = params.get("task", "")[:2048]
    if action in ("retry", "delete") and not message_id:
        raise Http404("Which message?")
    back = reverse("admin:django_sqs_queue_change", args=[target.name])
    if request.method == "POST":
        try:
            text, flag = _perform(action, target, message_id, handle)
        except actions.Unfinished as exc:  # SQS changed before the failure: told and audited
            text, flag = _unfinished(action, target, message_id, exc)
            _audit(request, name, flag, text)
            inventory.forget()
            messages.warning(request, text)
        except SQSError as exc:
            messages.error(request, _failure(exc, label.lower(), name))
        else:
            _audit(request, name, flag, text)
            inventory.forget()
            messages.success(request, text)
        return HttpResponseRedirect(back)
    count = error = None
    if action in ("redrive", "purge"):
        try:
            row = inventory.row(name)
            count = row.total if row else None
        except SQSError as exc:
            error = errors.describe(exc, f"count the messages of {name}")
    elif action in ("retry", "delete"):
        count = 1
    context = _context(
        request, model_admin, f"{label}: are you sure?", target,
        action=action, label=label, count=count, error=error, message_id=message_id, task=handle,
        back=back, fallback=not actions.move_tasks_served(),
    )
    return TemplateResponse(request, "django_sqs/dashboard/confirm.html", context)


def _perform(action: str, target: Target, message_id: str, handle: str) -> tuple[str, int]:
    """Do ``action``; returns the sentence for the page and LogEntry, and the LogEntry flag."""
    name = target.name
    if action == "redrive":
        done = actions.redrive(target.sources, target.entry.suffix)
        if done.how == "started":
            return (f"Redrive of {name} to {target.source_name} started: SQS moves the messages "
                    "(progress on this page).", CHANGE)
        text = _redrove(target, done)
        if done.moved >= actions.FALLBACK_REDRIVE_LIMIT:
            text += "; more may remain: redrive again"
        return text + ".", CHANGE
    if action == "cancel":
        moved = actions.cancel_move_task(name, handle)
        return f"Cancelled the redrive of {name} ({moved if moved is not None else '?'} message(s) moved).", CHANGE
    if action == "retry":
        new_id, to = actions.retry(target.sources, target.entry.suffix, name, message_id)
        return f"Retried 1 message of {name}: {message_id} sent back to {to} as {new_id}.", CHANGE
    if action == "delete":
        actions.delete(name, message_id)
        return f"Deleted 1 message of {name}: {message_id}.", DELETION
    row = inventory.row(name)
    actions.purge(name)
    return f"Purged {name} (about {row.total if row else 0} message(s)).", DELETION


def _redrove(target: Target, done: actions.RedriveResult) -> str:
    text = f"Redrove {done.moved} message(s) of {target.name} to {target.source_name}"
    if done.failed:
        text += f"; {done.failed} refused by SQS stayed in {target.name}"
    if done.not_deleted:
        text += f"; {done.not_deleted} sent but not deleted are in both queues"
    return text


def _unfinished(action: str, target: Target, message_id: str, exc: actions.Unfinished) -> tuple[str, int]:
    """The page's and the LogEntry's sentence for an action that failed after changing SQS."""
    errors.describe(exc.__cause__, f"finish the {action} on {target.name}")  # logs AWS's text
    failure = errors.brief(exc.__cause__)
    if action == "retry":
        new_id, to = exc.done
        return (f"Retried 1 message of {target.name}: {message_id} sent back to {to} as "
                f"{new_id}, but not deleted from {target.name} ({failure}): it is in both queues. "
                f"Delete it from {target.name} rather than retrying it again.", CHANGE)
    return f"{_redrove(target, exc.done)}; then it stopped ({failure}): redrive again.", CHANGE


def _workers(name: str) -> list[dict]:
    """The published records of the workers serving ``name``, with datetimes to show."""
    def when(seconds: float | None) -> dt.datetime | None:
        try:
            return dt.datetime.fromtimestamp(seconds, tz=dt.timezone.utc) if seconds else None
        except (OverflowError, OSError, ValueError):  # a record's time beyond what datetime holds
            return None

    shown = []
    for record in workers.published(name):
        poll = (record.get("last_polls") or {}).get(name) or {}
        shown.append({
            **record,
            "started": when(record.get("started_at")),
            "published": when(record.get("published_at")),
            "last_poll": when(poll.get("at")),
            "last_poll_ok": poll.get("ok", True),
        })
    return shown


def _failure(exc: SQSError, what: str, name: str) -> str:
    if isinstance(exc, actions.PurgeTooSoon):
        return (f"{name} was purged less than a minute ago, or a purge is still running: SQS allows one "
                "purge per queue every 60 seconds. Try again in a minute.")
    if isinstance(exc, actions.SourceUnknown):  # our own sentence, no AWS text in it
        return f"Could not {what} on {name}: {exc}"
    if isinstance(exc, actions.MessageNotFound):
        return (f"The message was not found in {name}: it was moved or deleted meanwhile, is held by "
                f"someone else, or lies deeper than the first {browsing.FIND_ROUNDS * browsing.PAGE_SIZE} messages.")
    return errors.describe(exc, f"{what} on {name}")


def _audit(request, name: str, flag: int, text: str) -> None:
    """An admin LogEntry: who, what, which queue (object_id), how many (in the text)."""
    LogEntry.objects.create(
        user_id=request.user.pk,
        content_type=ContentType.objects.get_for_model(Queue),
        object_id=name,
        object_repr=name,
        action_flag=flag,
        change_message=text,
    )
