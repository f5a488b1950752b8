"""Which registered queues a command works on: names or shell-style patterns."""

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
        matched = sorted((rq for rq in candidates if fnmatch.fnmatchcase(rq.name, pattern)), key=lambda rq: rq.name)
        if not matched:
            known = ", ".join(rq.name for rq in candidates) or "none"
            what = "registered queue with a receiver" if receivers_only else "registered queue"
            raise CommandError(f"No {what} matches {pattern!r} (known: {known}).")
        for rq in matched:
            chosen[rq.name] = rq
    if keep_order:
        return list(chosen.values())
    return sorted(chosen.values(), key=lambda rq: rq.name)


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
