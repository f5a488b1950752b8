"""``manage.py sqs_status``: the registered queues and how many messages they hold."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from ... import status
from ... import worker_groups as groups
from ...exceptions import SQSError, SQSRequestError
from ...selection import select_queues
from .. import logging as command_logging
from ..arguments import add_queue_names


class Command(BaseCommand):
    help = (
        "Show every registered queue (or the named ones) with its full SQS name and the "
        "approximate number of visible, in-flight (received, not yet deleted) and delayed "
        "messages. Suffixed queues get a line each; a dead-letter queue is shown indented "
        "under its queue. A queue that does not exist yet is shown as such and is not "
        "created. One GetQueueAttributes request per queue. Without queue names, the "
        "queues under SQS_QUEUE_PREFIX that no registration declares are listed after the "
        "table (one ListQueues request; without the sqs:ListQueues permission they are left "
        "out, and the command says so)."
    )

    def add_arguments(self, parser):
        add_queue_names(parser)
        parser.add_argument(
            "--json", action="store_true",
            help=(
                "print a JSON list with one object per queue: queue, suffix, full_name, exists, "
                "visible, in_flight, delayed (null when the queue does not exist) and "
                "dead_letter_queue_of, and with SQS_WORKERS, worker (the group serving it, null for "
                "a worker process of its own); queues under the prefix that nothing registers come "
                "last, with queue null"
            ),
        )

    def handle(self, **options):
        command_logging.configure(options["verbosity"])
        queues = select_queues(options["queue_names"])
        try:
            rows = status.gather(queues)
            strays = [] if options["queue_names"] else self.unregistered()
        except SQSError as exc:
            raise CommandError(str(exc)) from exc
        serving = groups.serving()
        if options["json"]:
            stray_rows = [
                status.QueueStatus(name=None, suffix=None, full_name=name, exists=True).as_dict() for name in strays
            ]
            # "worker" only where SQS_WORKERS declares groups: without it, every queue has its own.
            mine = [{**row.as_dict(), **({"worker": serving.get(row.name)} if serving else {})} for row in rows]
            self.stdout.write(json.dumps(mine + stray_rows, indent=2))
            return
        header, *lines = status.format_table(rows)
        self.stdout.write(self.style.MIGRATE_HEADING(header))
        for row, line in zip(rows, lines, strict=True):
            self.stdout.write(line if row.exists else self.style.WARNING(line))
        self.show_workers(queues)
        if strays:
            self.stdout.write(self.style.WARNING(
                "\nQueues under the prefix that no registration declares (no worker serves them):"
            ))
            for name in strays:
                self.stdout.write(f"  {name}")

    def show_workers(self, queues) -> None:
        """Which worker serves which queue, as ``SQS_WORKERS`` declares it."""
        try:
            declared = groups.declared_groups()
        except ValueError as exc:
            self.stdout.write(self.style.WARNING(f"\nSQS_WORKERS is invalid: {exc}"))
            return
        if not declared:
            return
        shown = {rq.name for rq in queues}
        self.stdout.write(self.style.MIGRATE_HEADING("\nWorkers (SQS_WORKERS; runreceiver without queue names):"))
        for group in declared:
            if shown & {rq.name for rq in group.queues}:
                self.stdout.write(f"  {group.describe()}")
        alone = sorted(shown - {rq.name for g in declared for rq in g.queues})
        receiving = {rq.name for rq in queues if rq.receiver is not None}
        alone = [name for name in alone if name in receiving]
        if alone:
            self.stdout.write(f"  a worker process each: {', '.join(alone)}")

    def unregistered(self) -> list[str]:
        """The queues under the prefix that nothing registers; none, said on stderr, when
        this identity may not list queues: the least-privilege worker policy does not grant
        sqs:ListQueues, and the registered queues' report is worth having without them."""
        try:
            return status.unregistered_queues()
        except SQSRequestError as exc:
            if exc.code not in ACCESS_DENIED:
                raise
            code = exc.code
        self.stderr.write(self.style.WARNING(
            f"Queues under the prefix that no registration declares are not listed: ListQueues was "
            f"refused ({code}). Only the registered queues are shown. Grant sqs:ListQueues "
            "to see the others."
        ))
        return []


#: The error codes of a refused permission (SQS's JSON and query protocols differ).
ACCESS_DENIED = frozenset({"AccessDenied", "AccessDeniedException", "AWS.SimpleQueueService.AccessDenied"})
