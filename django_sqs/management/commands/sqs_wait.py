"""``manage.py sqs_wait``: wait until queues are empty (deploy scripts, tests, demos)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from ... import status
from ...exceptions import SQSError
from ...selection import select_queues
from .. import logging as command_logging
from ..arguments import add_queue_names, non_negative_float, positive_float


def _summary(rows: list[status.QueueStatus]) -> str:
    visible, in_flight, delayed = (sum(getattr(r, key) or 0 for r in rows) for key in ("visible", "in_flight", "delayed"))
    return f"{visible} visible, {in_flight} in flight, {delayed} delayed"


class Command(BaseCommand):
    help = (
        "Wait until every registered queue (or the named ones), suffixed queues included, "
        "is empty: approximate visible, in-flight and delayed counts all zero. A queue that "
        "does not exist counts as empty; dead-letter queues are not waited for unless named. "
        "Shows the remaining counts on a terminal. Exits 0 when empty, 1 on timeout."
    )

    def add_arguments(self, parser):
        add_queue_names(parser)
        parser.add_argument(
            "--timeout", type=non_negative_float, metavar="S",
            help="give up after S seconds and exit with status 1 (default: wait as long as it takes)",
        )
        parser.add_argument(
            "--interval", type=positive_float, default=1.0, metavar="S",
            help="seconds between checks (default 1); each check is one GetQueueAttributes per queue",
        )

    def handle(self, **options):
        command_logging.configure(options["verbosity"])
        queues = select_queues(options["queue_names"])
        self._tty = self.stdout.isatty()
        self._verbosity = options["verbosity"]
        self._shown = self._last = ""
        try:
            empty, rows = status.wait_until_empty(
                queues, timeout=options["timeout"], interval=options["interval"], progress=self.progress
            )
        except SQSError as exc:
            self.end_progress()
            raise CommandError(str(exc)) from exc
        self.end_progress()
        if not empty:
            busy = ", ".join(f"{r.full_name} ({r.visible or 0}/{r.in_flight or 0}/{r.delayed or 0})" for r in rows if r.total)
            raise CommandError(
                f"Timed out after {options['timeout']:g}s with {_summary(rows)} left "
                f"(visible/in flight/delayed: {busy}).",
                returncode=1,
            )
        if self._verbosity:
            self.stdout.write(self.style.SUCCESS(f"Empty: {len(rows)} queue{'' if len(rows) == 1 else 's'}."))

    def progress(self, rows: list[status.QueueStatus], elapsed: float) -> None:
        line = f"waiting {elapsed:.0f}s: {_summary(rows)}"
        if self._tty:
            # Rewrite the line in place; pad over a longer previous one.
            self.stdout.write("\r" + line.ljust(len(self._shown)), ending="")
            self.stdout.flush()
            self._shown = line
        elif self._verbosity >= 2 and _summary(rows) != self._last:
            self.stdout.write(line)  # in a log: a line when the counts change
        self._last = _summary(rows)

    def end_progress(self) -> None:
        if self._tty and self._shown:
            self.stdout.write("")
            self._shown = ""
