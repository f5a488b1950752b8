"""``manage.py runreceiver``: consume SQS queues with their receivers."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from ...selection import select_queues
from ...supervisor import Supervisor
from .. import logging as command_logging
from ..arguments import add_queue_names, positive_int


class Command(BaseCommand):
    help = (
        "Receive messages from SQS queues and run their receivers. With no queue names, "
        "serves every registered queue that has a receiver. SIGTERM/SIGINT stops after the "
        "message in hand and gives unstarted messages back to the queue; a second signal "
        "exits at once."
    )

    def add_arguments(self, parser):
        add_queue_names(parser, "every queue with a receiver")
        parser.add_argument(
            "--message-limit", type=positive_int, metavar="N",
            help="each worker exits after handling N messages (counted across restarts)",
        )
        parser.add_argument("--suffix", help="serve the queues with this suffix (prefix__name__SUFFIX)")
        parser.add_argument(
            "--concurrency", type=positive_int, default=1, metavar="N",
            help="worker processes per queue (default 1)",
        )
        parser.add_argument("--burst", action="store_true", help="exit once every served queue is empty")

    def handle(self, **options):
        command_logging.configure(options["verbosity"])
        queues = select_queues(options["queue_names"], receivers_only=True)
        suffix = options["suffix"] or None
        for rq in queues:
            rq.full_name(suffix)  # an invalid suffix is an error now; an undeclared one warns
        supervisor = Supervisor(
            queues,
            suffix=suffix,
            concurrency=options["concurrency"],
            message_limit=options["message_limit"],
            burst=options["burst"],
        )
        code = supervisor.run()
        if code:
            raise SystemExit(code)
