"""Which registered queues a command works on: registered names, shell-style patterns of
them, or full SQS names (with prefix and suffix, as tables and logs print them)."""

from __future__ import annotations

import fnmatch

from django.apps import apps
from django.core.management.base import CommandError
from django.utils.module_loading import module_has_submodule

from .conf import receiver_modules
from .registered_queue import RegisteredQueue
from .registry import registry


def select_queues(patterns: list[str], *, receivers_only: bool = False, keep_order: bool = False) -> list[RegisteredQueue]:
    """The registered queues matching ``patterns`` (all of them when empty), in name order,
    or in the order the patterns name them with ``keep_order`` (``runreceiver --priority``).

    A name or pattern that matches nothing is a ``CommandError`` listing what exists.
    """
    candidates = registry.with_receivers() if receivers_only else list(registry)
    if not patterns:
        if not candidates:
            raise CommandError(nothing_registered(receivers_only))
        return candidates
    chosen: dict[str, RegisteredQueue] = {}
    for pattern in patterns:
        matched = [rq for rq, _ in resolve(pattern, candidates, receivers_only)]
        for rq in matched:
            chosen[rq.name] = rq
    if keep_order:
        return list(chosen.values())
    return sorted(chosen.values(), key=lambda rq: rq.name)


def resolve(pattern: str, candidates: list[RegisteredQueue], receivers_only: bool = False) -> list[tuple[RegisteredQueue, str | None]]:
    """``(queue, suffix)`` for what ``pattern`` names: registered names matching it (suffix
    None: the queue with all its suffixes), else the queue whose full SQS name it is (with
    the suffix that name carries). Nothing is a ``CommandError`` listing what exists."""
    matched = sorted((rq for rq in candidates if fnmatch.fnmatchcase(rq.name, pattern)), key=lambda rq: rq.name)
    if matched:
        return [(rq, None) for rq in matched]
    found = registry.find_full_name(pattern)
    if found is not None and found[0] in candidates:
        return [found]
    known = ", ".join(rq.name for rq in candidates) or "none"
    what = "registered queue with a receiver" if receivers_only else "registered queue"
    raise CommandError(f"No {what} matches {pattern!r}, as a registered name or a full SQS name (known: {known}).")


def named_suffix(patterns: list[str], *, receivers_only: bool = False) -> str | None:
    """The suffix that full SQS names among ``patterns`` carry (``dev__payments__eu``: eu),
    for ``runreceiver``, which serves one suffix; None when they name none. Names that
    disagree (two suffixes, or a suffixed and an unsuffixed queue) are a ``CommandError``."""
    candidates = registry.with_receivers() if receivers_only else list(registry)
    found = {suffix for pattern in patterns for _, suffix in resolve(pattern, candidates, receivers_only)}
    if found == {None} or not found:
        return None
    if len(found) > 1:
        shown = ", ".join(sorted(repr(s) if s else "no suffix" for s in found))
        raise CommandError(f"The names given mean different suffixes ({shown}); runreceiver serves one suffix at a time.")
    return found.pop()


def selected_full_names(patterns: list[str]) -> list[str]:
    """The SQS names a command that acts queue by queue (``sqs_clear``) works on: every
    suffixed queue of a queue selected by registered name or pattern, only the named one
    for a full SQS name."""
    if not patterns:
        return [full for rq in select_queues([]) for _, full in rq.full_names()]
    chosen: dict[str, dict[str, None]] = {}  # registered name → its SQS names, in order
    candidates = list(registry)
    for pattern in patterns:
        for rq, suffix in resolve(pattern, candidates):
            names = chosen.setdefault(rq.name, {})
            if suffix is None and fnmatch.fnmatchcase(rq.name, pattern):
                names.update(dict.fromkeys(full for _, full in rq.full_names()))
            else:
                names[rq.full_name(suffix)] = None
    # In name order, as select_queues gives them.
    return [full for name in sorted(chosen) for full in chosen[name]]


def nothing_registered(receivers_only: bool) -> str:
    """Why nothing is registered, and where receivers are looked for: the modules named by
    ``SQS_RECEIVER_MODULES`` in each installed app."""
    names = receiver_modules()
    found = [
        f"{app.name}.{name}"
        for app in apps.get_app_configs()
        for name in names
        if module_has_submodule(app.module, name)
    ]
    looked = ", ".join(found) if found else "none of them exists"
    return (
        "No queues are registered" + (" with a receiver" if receivers_only else "") + ". "
        f"django_sqs imports the module(s) {', '.join(names)} of each installed app "
        f"(SQS_RECEIVER_MODULES; found: {looked}). Decorate a function with "
        "@django_sqs.receiver(\"queue-name\") in <app>/receivers.py, check that its app is "
        "in INSTALLED_APPS, or list other module names, e.g. "
        'SQS_RECEIVER_MODULES = ["receivers", "tasks"].'
    )
