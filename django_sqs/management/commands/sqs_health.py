"""``manage.py sqs_health PATH``: exit 0 if the worker writing PATH is healthy, 1 if not.

For probes that run often, the same check without setting Django up (no settings, no
receivers imported)::

    python -m django_sqs.management.commands.sqs_health PATH [--max-age S] [--max-busy S]
"""

from __future__ import annotations

import argparse
import sys

from django.core.management.base import BaseCommand, CommandError

from ... import health
from ..arguments import positive_float


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", help="the file given to runreceiver --health-file")
    parser.add_argument(
        "--max-age", type=positive_float, default=health.DEFAULT_MAX_AGE, metavar="S",
        help=f"healthy if a receive returned within S seconds (default {health.DEFAULT_MAX_AGE:g}; "
        "keep it above SQS_POLL_PERIOD, which is how long an idle receive waits)",
    )
    parser.add_argument(
        "--max-busy", type=positive_float, default=health.DEFAULT_MAX_BUSY, metavar="S",
        help=f"unhealthy if a receiver has been running longer than S seconds (default {health.DEFAULT_MAX_BUSY:g})",
    )


class Command(BaseCommand):
    help = (
        "Exit 0 if the runreceiver that writes PATH (--health-file) is healthy: it polled "
        "within --max-age seconds, or is busy with messages that started less than "
        "--max-busy seconds ago. Exit 1 with the reason otherwise: the worker is gone "
        "(file not updated), stopping, stuck in a receiver, or not polling."
    )
    requires_system_checks = []

    def add_arguments(self, parser):
        add_arguments(parser)

    def handle(self, **options):
        result = health.verdict(options["path"], max_age=options["max_age"], max_busy=options["max_busy"])
        if not result.healthy:
            raise CommandError(f"unhealthy: {result.reason}", returncode=1)
        if options["verbosity"]:
            self.stdout.write(f"healthy: {result.reason}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m django_sqs.management.commands.sqs_health", description=Command.help)
    add_arguments(parser)
    args = parser.parse_args(argv)
    result = health.verdict(args.path, max_age=args.max_age, max_busy=args.max_busy)
    if result.healthy:
        sys.stdout.write(f"healthy: {result.reason}\n")
        return 0
    sys.stderr.write(f"unhealthy: {result.reason}\n")
    return 1


if __name__ == "__main__":
    sys.exit(main())
