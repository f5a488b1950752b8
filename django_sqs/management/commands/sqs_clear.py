"""``manage.py sqs_clear``: delete the messages of queues and say how many."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from ... import clearing
from ...exceptions import SQSError
from ...selection import selected_full_names
from .. import logging as command_logging
from ..arguments import add_queue_names


class Command(BaseCommand):
    help = (
        "Delete the messages of every registered queue (or the named ones), suffixed queues "
        "included, and print how many were deleted per queue. Messages are received and "
        "deleted in batches of 10, so they can be counted; messages held by a running worker "
        "(in flight) or not due yet (delayed) cannot be received and are left. Dead-letter "
        "queues are cleared only when they are selected (no names selects every queue). "
        "Queues that do not exist are not created."
    )

    def add_arguments(self, parser):
        add_queue_names(parser)
        parser.add_argument(
            "--purge", action="store_true",
            help=(
                "use PurgeQueue instead: one request per queue, in-flight and delayed messages "
                "included, but uncounted, completed by SQS within 60 s, and allowed once per "
                "60 s per queue"
            ),
        )

    def handle(self, **options):
        command_logging.configure(options["verbosity"])
        names = selected_full_names(options["queue_names"])
        try:
            if options["purge"]:
                self.purge(names)
            else:
                self.clear(names)
        except SQSError as exc:
            raise CommandError(str(exc)) from exc

    def clear(self, names: list[str]) -> None:
        total = 0
        for full_name in names:
            result = clearing.clear_queue(full_name)
            if not result.exists:
                self.stdout.write(self.style.WARNING(f"{full_name}: not created yet"))
                continue
            total += result.deleted
            line = f"{full_name}: deleted {result.deleted}"
            left = [f"{n} {what}" for n, what in ((result.in_flight, "in flight"), (result.delayed, "delayed")) if n]
            if left:
                line += f"; left about {' and '.join(left)} (cannot be received now)"
            if result.failed:
                line += f"; {result.failed} could not be deleted"
            self.stdout.write(line if not (left or result.failed) else self.style.WARNING(line))
        self.stdout.write(self.style.SUCCESS(f"Deleted {total} message{'' if total == 1 else 's'}."))

    def purge(self, names: list[str]) -> None:
        said = {
            "purged": "purged",
            "in progress": "a purge is already in progress (SQS allows one per 60 s per queue)",
            "not created": "not created yet",
        }
        for full_name in names:
            outcome = clearing.purge_queue(full_name)
            line = f"{full_name}: {said[outcome]}"
            self.stdout.write(line if outcome == "purged" else self.style.WARNING(line))
