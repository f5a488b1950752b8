"""``manage.py sqs_redrive``: move messages from a queue's dead-letter queue back into it."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from ...dead_letters import REDRIVE_VISIBILITY_TIMEOUT, Redrive
from ...exceptions import ConfigurationError, SQSError
from ...registry import registry
from .. import logging as command_logging
from ..arguments import positive_int


class Command(BaseCommand):
    help = (
        "Move the messages of QUEUE's dead-letter queue back into QUEUE and print how many. "
        "Each round receives up to 10 messages from the dead-letter queue, sends them to QUEUE "
        "with SendMessageBatch, and deletes from the dead-letter queue only those SQS accepted. "
        "Safe to interrupt at any point: a message may be duplicated, never lost (the messages "
        "of the round in progress may end up in both queues; the copies reappear in the "
        f"dead-letter queue after {REDRIVE_VISIBILITY_TIMEOUT} s). FIFO messages keep their group and are deduplicated "
        "by their message id."
    )

    def add_arguments(self, parser):
        parser.add_argument("queue_name", metavar="QUEUE", help="the queue (not its dead-letter queue): its registered name or its full SQS name")
        parser.add_argument("--max", type=positive_int, metavar="N", help="move at most N messages")
        parser.add_argument("--suffix", help="redrive the suffixed queue (its dead-letter queue has the same suffix)")

    def handle(self, **options):
        command_logging.configure(options["verbosity"])
        name, suffix = options["queue_name"], options["suffix"] or None
        found = registry.find_full_name(name) if name not in registry else None
        if found is not None:  # a full SQS name, as sqs_status prints it
            rq, named = found
            if named and suffix and named != suffix:
                raise CommandError(f"--suffix {suffix!r} contradicts the suffix {named!r} of {name!r}.")
            name, suffix = rq.name, suffix or named
        if name not in registry:
            known = ", ".join(rq.name for rq in registry if rq.dead_letter_queue) or "none"
            raise CommandError(f"No queue named {name!r} is registered (queues with a dead-letter queue: {known}).")
        rq = registry.get(name)
        if not rq.dead_letter_queue:
            hint = f"; it is the dead-letter queue of {rq.dead_letter_queue_of!r}" if rq.dead_letter_queue_of else ""
            raise CommandError(f"Queue {name!r} declares no dead_letter_queue{hint}.")
        try:
            rq.full_name(suffix)  # an invalid or undeclared suffix is an error now, before any request
        except ConfigurationError as exc:
            raise CommandError(str(exc)) from exc
        sharing = [o.name for o in registry if o.dead_letter_queue == rq.dead_letter_queue and o is not rq]
        if sharing:
            self.stderr.write(self.style.WARNING(
                f"{rq.dead_letter_queue!r} is also the dead-letter queue of {', '.join(sharing)}: "
                f"their messages are moved into {name!r} too."
            ))
        try:
            redrive = Redrive(rq, suffix, max_messages=options["max"])
        except SQSError as exc:
            raise CommandError(str(exc)) from exc
        try:
            redrive.run()
        except KeyboardInterrupt:
            self.report(redrive)
            raise CommandError(
                f"Interrupted; no message was lost. Messages received but not moved yet reappear in "
                f"{redrive.source} within {REDRIVE_VISIBILITY_TIMEOUT} s; those of the last round "
                "may be in both queues.",
                returncode=130,
            ) from None
        except SQSError as exc:
            self.report(redrive)
            raise CommandError(f"{exc}. No message was lost; run sqs_redrive again.") from exc
        self.report(redrive)
        if redrive.failed:
            raise CommandError(f"SQS refused {redrive.failed} message(s); they are still in {redrive.source}.")

    def report(self, redrive: Redrive) -> None:
        n = redrive.moved
        line = f"Moved {n} message{'' if n == 1 else 's'} from {redrive.source} to {redrive.target}."
        self.stdout.write(self.style.SUCCESS(line) if n else line)
        if redrive.not_deleted:
            self.stdout.write(self.style.WARNING(
                f"{redrive.not_deleted} of them could not be deleted from {redrive.source} and are in both queues."
            ))
