"""``manage.py sqs_create_queues``: create or update the registered queues (deploy step)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from ... import provisioning
from ...exceptions import SQSError
from ...selection import select_queues
from .. import logging as command_logging
from ..arguments import add_queue_names


class Command(BaseCommand):
    help = (
        "Create or update every registered queue (or the named ones), its suffixed queues and "
        "its dead-letter queue, dead-letter queues first, with the attributes django_sqs "
        "manages: VisibilityTimeout, RedrivePolicy, FifoQueue and ContentBasedDeduplication. "
        "Other attributes are left as they are. Idempotent: prints created, updated (with what "
        "changed) or unchanged per queue. Runs whatever SQS_CREATE_QUEUES says; needs "
        "sqs:CreateQueue, sqs:GetQueueUrl, sqs:GetQueueAttributes and sqs:SetQueueAttributes."
    )

    def add_arguments(self, parser):
        add_queue_names(parser)

    def handle(self, **options):
        command_logging.configure(options["verbosity"])
        queues = select_queues(options["queue_names"])
        done = {"created": 0, "updated": 0, "unchanged": 0}
        for rq, suffix in provisioning.plan(queues):
            try:
                result = provisioning.create_or_update(rq, suffix)
            except SQSError as exc:
                raise CommandError(str(exc)) from exc
            done[result.action] += 1
            line = result.describe()
            style = {"created": self.style.SUCCESS, "updated": self.style.WARNING}.get(result.action)
            self.stdout.write(style(line) if style else line)
        total = sum(done.values())
        self.stdout.write(
            f"{total} queue{'' if total == 1 else 's'}: "
            + ", ".join(f"{n} {action}" for action, n in done.items())
            + "."
        )
