"""``manage.py runreceiver``: consume SQS queues with their receivers."""

from __future__ import annotations

import gc

from django.core.management.base import BaseCommand, CommandError

from ... import ops
from ...client import get_client
from ...conf import settings
from ...exceptions import SQSError
from ...periodic import runner as schedules
from ...selection import named_suffix, select_queues
from ...worker import Supervisor, sources_for
from .. import logging as command_logging
from ..arguments import add_queue_names, number, positive_int

#: Worker processes one runreceiver may start (queues × --concurrency): each is a whole
#: Django process with boto3, about 50 MB; beyond this, threads are the way.
MAX_PROCESSES = 64
PROCESS_MEMORY_MB = 50
MAX_THREADS = 256


class Command(BaseCommand):
    help = (
        "Receive messages from SQS queues and run their receivers. With no queue names, "
        "serves every registered queue that has a receiver. SIGTERM, SIGINT or SIGHUP stops "
        "after the messages in hand and gives unstarted messages back to the queue at once; a "
        "second signal exits at once. SIGQUIT stops at once (unstarted messages still go back); "
        "SIGUSR1 logs every thread's stack. --burst exits 2 when SQS cannot be reached."
    )

    def add_arguments(self, parser):
        add_queue_names(parser, "every queue with a receiver")
        parser.add_argument(
            "--message-limit", type=positive_int, metavar="N",
            help="each worker exits after handling N messages (counted across threads and restarts)",
        )
        parser.add_argument("--suffix", help="serve the queues with this suffix (prefix__name__SUFFIX)")
        parser.add_argument(
            "--concurrency", type=positive_int, default=1, metavar="N",
            help=f"worker processes per queue (default 1; at most {MAX_PROCESSES} processes in all, "
            f"about {PROCESS_MEMORY_MB} MB each)",
        )
        parser.add_argument(
            "--threads", type=number(int, minimum=1, maximum=MAX_THREADS), default=1, metavar="N",
            help="receivers run on N threads in each worker process (default 1); for receivers "
            "that wait on the network",
        )
        parser.add_argument(
            "--priority", action="store_true",
            help="serve the named queues together in one worker, in the order given (first = highest)",
        )
        parser.add_argument("--burst", action="store_true", help="exit once every served queue is empty")
        parser.add_argument(
            "--schedules", action="store_true",
            help="also fire the periodic schedules (mode B): each tick claimed in the database, sent once "
            "by whichever runreceiver claims it",
        )
        ops.add_arguments(parser)

    def run_from_argv(self, argv):
        try:
            super().run_from_argv(argv)
        finally:
            # From the command line only: the process exits next, and the collector's last
            # pass over Django's and boto3's objects would add ~0.3 s to every stop.
            gc.freeze()

    def handle(self, **options):
        command_logging.configure(options["verbosity"])
        priority = options["priority"]
        if priority and not options["queue_names"]:
            raise CommandError("--priority needs the queue names, highest priority first.")
        queues = select_queues(options["queue_names"], receivers_only=True, keep_order=priority)
        suffix = options["suffix"] or None
        # A full SQS name (dev__payments__eu, as logs print it) names its suffix too.
        named = named_suffix(options["queue_names"], receivers_only=True)
        if named and suffix and named != suffix:
            raise CommandError(f"--suffix {suffix!r} contradicts the suffix {named!r} of the SQS name given.")
        suffix = suffix or named
        if suffix and not options["queue_names"]:
            # All queues, one suffix: those that declare it (the others have no such queue).
            queues = [rq for rq in queues if suffix in rq.suffixes]
            if not queues:
                raise CommandError(f"No queue with a receiver declares the suffix {suffix!r}.")
        try:
            workers = [sources_for(queues, suffix)] if priority else [sources_for([rq], suffix) for rq in queues]
        except SQSError as exc:  # an undeclared suffix, a prefix the checks refuse
            raise CommandError(str(exc)) from exc
        concurrency = options["concurrency"]
        processes = len(workers) * concurrency
        if processes > MAX_PROCESSES:
            raise CommandError(
                f"This would start {processes} worker processes ({len(workers)} worker(s) × --concurrency "
                f"{concurrency}); the ceiling is {MAX_PROCESSES}, as each takes about "
                f"{PROCESS_MEMORY_MB} MB of memory. Use --threads for receivers that wait on the network, "
                "--priority to serve several queues from one process, or several runreceiver commands."
            )
        supervisor = Supervisor(
            workers,
            concurrency=concurrency,
            threads=options["threads"],
            message_limit=options["message_limit"],
            burst=options["burst"],
            banner=self.banner(workers, concurrency, options["threads"]),
        )
        # Forked before ops.configure starts any thread; stopped when the workers are.
        firing = schedules.start_firing() if options["schedules"] else None
        ops.configure(
            health_file=options["health_file"], health_port=options["health_port"],
            metrics_port=options["metrics_port"], processes=processes,
        )
        try:
            code = supervisor.run()
        finally:
            if firing is not None:
                firing.stop()
            ops.shutdown()
        if code:
            raise SystemExit(code)

    def banner(self, workers, concurrency: int, threads: int) -> str:
        names = ", ".join("+".join(s.full_name for s in sources) for sources in workers)
        meta = get_client().meta
        return (
            f"queues={names} concurrency={concurrency} poll_period={settings.SQS_POLL_PERIOD}s "
            f"threads={threads} endpoint={meta.endpoint_url} region={meta.region_name}"
        )
