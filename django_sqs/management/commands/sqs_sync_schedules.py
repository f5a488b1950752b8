"""``manage.py sqs_sync_schedules [--dry-run]``: make EventBridge Scheduler hold exactly the
declared schedules (mode A, a deploy step)."""

from __future__ import annotations

from botocore.exceptions import BotoCoreError, ClientError
from django.core.management.base import BaseCommand, CommandError

from ...exceptions import SQSError
from ...periodic import aws, config
from ...periodic.schedule import ScheduleError
from .. import logging as command_logging


class Command(BaseCommand):
    help = (
        "Create, update and delete the schedules of the EventBridge Scheduler group named after "
        "SQS_QUEUE_PREFIX so that it holds exactly the declared schedules (@periodic, SQS_SCHEDULES); "
        "prints the changes. Idempotent: a second run changes nothing. Needs scheduler:* on the group "
        "and iam:PassRole on SQS_SCHEDULER_ROLE_ARN."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="print the changes, make none")

    def handle(self, **options):
        command_logging.configure(options["verbosity"])
        if config.mode() != "eventbridge":
            raise CommandError(
                f"SQS_SCHEDULE_MODE is {config.mode()!r}: the workers fire the schedules (runreceiver "
                "--schedules). Set SQS_SCHEDULE_MODE = \"eventbridge\" to hand them to EventBridge Scheduler, "
                "or every tick would be sent twice."
            )
        client = aws.scheduler_client()
        try:
            plan = aws.plan(client)
            lines = plan.describe()
            for line in lines:
                self.stdout.write(line)
            if options["dry_run"]:
                self.stdout.write(f"dry run: {len(plan.changes)} change(s) not made in group {plan.group}.")
                return
            aws.apply(plan, client)
        except (ScheduleError, SQSError) as exc:
            raise CommandError(str(exc)) from exc
        except (ClientError, BotoCoreError) as exc:
            raise CommandError(f"EventBridge Scheduler refused: {exc}") from exc
        if plan.changes or not plan.group_exists:
            self.stdout.write(self.style.SUCCESS(f"group {plan.group}: {len(plan.changes)} change(s) made."))
        else:
            self.stdout.write(f"group {plan.group}: up to date, nothing changed.")
