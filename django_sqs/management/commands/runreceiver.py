"""``manage.py runreceiver``: consume SQS queues with their receivers."""

from __future__ import annotations

import argparse
import gc

from django.core.management.base import BaseCommand, CommandError

from ... import ops
from ...client import get_client
from ...conf import settings
from ...exceptions import SQSError
from ...periodic import runner as schedules
from ...selection import named_suffix, select_queues
from ...worker import Supervisor
from ...worker.groups import plan_of
from ...worker_groups import plan
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
            "--concurrency", type=positive_int, default=None, metavar="N",
            help=f"worker processes per queue or group (default 1, or the group's; at most {MAX_PROCESSES} "
            f"processes in all, about {PROCESS_MEMORY_MB} MB each)",
        )
        parser.add_argument(
            "--threads", type=number(int, minimum=1, maximum=MAX_THREADS), default=None, metavar="N",
            help="receivers run on N threads in each worker process (default 1, or the group's); for "
            "receivers that wait on the network",
        )
        together = parser.add_mutually_exclusive_group()
        together.add_argument(
            "--priority", action="store_true",
            help="serve the named queues together in one worker, in the order given (first = highest)",
        )
        together.add_argument(
            "--weights", type=weights_option, metavar="Q=W,...",
            help="serve the named queues together in one worker, each receive round choosing among "
            "those with messages in proportion to these weights (a queue left out weighs 1)",
        )
        together.add_argument(
            "--together", action="store_true",
            help="serve the named queues together in one worker with equal weights",
        )
        together.add_argument(
            "--group", action="append", metavar="NAME",
            help="run the worker group NAME of SQS_WORKERS (may be repeated); without queue names "
            "and without --group, every group of SQS_WORKERS runs, and each queue in none gets its own worker",
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
        names = options["queue_names"]
        mode = "priority" if options["priority"] else "weighted" if options["weights"] or options["together"] else "single"
        if mode != "single" and not names:
            flag = "--priority" if options["priority"] else "--weights" if options["weights"] else "--together"
            raise CommandError(f"{flag} needs the queue names" + (", highest priority first." if options["priority"] else "."))
        if options["group"] and names:
            raise CommandError("--group runs a group of SQS_WORKERS: give either --group or queue names, not both.")
        queues = select_queues(names, receivers_only=True, keep_order=mode != "single")
        weights = None
        if mode == "weighted":
            weights = options["weights"] or {}
            stray = sorted(set(weights) - {rq.name for rq in queues})
            if stray:
                raise CommandError(f"--weights names queue(s) not served here: {', '.join(stray)}.")
        suffix = options["suffix"] or None
        # A full SQS name (dev__payments__eu, as logs print it) names its suffix too.
        named = named_suffix(options["queue_names"], receivers_only=True)
        if named and suffix and named != suffix:
            raise CommandError(f"--suffix {suffix!r} contradicts the suffix {named!r} of the SQS name given.")
        suffix = suffix or named
        if suffix and not names:
            # All queues, one suffix: those that declare it (the others have no such queue).
            queues = [rq for rq in queues if suffix in rq.suffixes]
            if not queues:
                raise CommandError(f"No queue with a receiver declares the suffix {suffix!r}.")
        try:
            groups = plan(queues, named=bool(names) or bool(suffix), group_names=options["group"], mode=mode, weights=weights)
            workers = [plan_of(g, suffix=suffix, threads=options["threads"], concurrency=options["concurrency"]) for g in groups]
        except (SQSError, ValueError) as exc:  # an undeclared suffix or group, a prefix the checks refuse
            raise CommandError(str(exc)) from exc
        processes = sum(w.concurrency for w in workers)
        if processes > MAX_PROCESSES:
            raise CommandError(
                f"This would start {processes} worker processes ({len(workers)} worker(s) × their "
                f"concurrency); the ceiling is {MAX_PROCESSES}, as each takes about "
                f"{PROCESS_MEMORY_MB} MB of memory. Use --threads for receivers that wait on the network, "
                "--priority, --weights or --together (or SQS_WORKERS) to serve several queues from one "
                "process, or several runreceiver commands."
            )
        supervisor = Supervisor(
            workers,
            message_limit=options["message_limit"],
            burst=options["burst"],
            banner=self.banner(workers),
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

    def banner(self, workers) -> str:
        names = ", ".join(w.names for w in workers)
        meta = get_client().meta
        concurrency = ",".join(sorted({str(w.concurrency) for w in workers}))
        threads = ",".join(sorted({str(w.threads) for w in workers}))
        shown = f"queues={names} concurrency={concurrency} poll_period={settings.SQS_POLL_PERIOD}s threads={threads}"
        if any(w.label != w.names for w in workers):
            shown += " workers=" + "; ".join(f"{w.label}={w.names}×{w.concurrency}" for w in workers)
        return f"{shown} endpoint={meta.endpoint_url} region={meta.region_name}"


def weights_option(text: str) -> dict[str, int]:
    """``--weights a=3,b=2,c=1``: queue name → weight (a whole number of 0 or more)."""
    weights = {}
    for part in text.split(","):
        name, sep, value = part.strip().partition("=")
        if not sep or not name or not value.strip().isdigit():
            raise argparse.ArgumentTypeError(f"{part.strip()!r} is not QUEUE=WEIGHT (a whole number of 0 or more)")
        weights[name.strip()] = int(value)
    if weights and not any(weights.values()):
        raise argparse.ArgumentTypeError("at least one queue needs a weight above 0")
    return weights
