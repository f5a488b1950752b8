#!/usr/bin/env python
"""The django_sqs demo (``python3 dev.py demo``): no AWS account, no network.

1. starts moto's SQS server on 127.0.0.1 (a free port) and points the example project at it;
2. migrates a fresh sqlite database (in a temporary directory);
3. sends one message of every kind to the shop's receivers;
4. runs ``python manage.py runreceiver --burst``, which handles them and exits;
5. prints what each receiver did and ``python manage.py sqs_status``;
6. stops the server it started.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# The project as checked out, even when it is not installed (dev.py installs it).
sys.path[:0] = [str(HERE), str(ROOT)]

from django_sqs.localserver import LocalSQSServer  # noqa: E402

#: Receivers in the order the demo sends to them.
RECEIVERS = ["take_note", "import_legacy", "track_event", "confirm_order", "restock", "charge", "send_receipt"]


def say(text: str = "") -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def environment(server_url: str, tmp: Path) -> dict[str, str]:
    """What the demo and the commands it runs need: the local endpoint, fake credentials
    (moto accepts any), no AWS configuration of this machine, a database of their own."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")
    }
    env.update(
        DJANGO_SETTINGS_MODULE="example.settings",
        SQS_ENDPOINT_URL=server_url,
        AWS_ACCESS_KEY_ID="demo",
        AWS_SECRET_ACCESS_KEY="demo",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_CONFIG_FILE=str(tmp / "no-aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp / "no-aws-credentials"),
        DJANGO_SQS_EXAMPLE_DB=str(tmp / "db.sqlite3"),
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        PYTHONUNBUFFERED="1",
    )
    return env


def manage(*args: str, env: dict[str, str]) -> int:
    """Run ``python manage.py ARGS`` as a user would, its output indented under ours."""
    say(f"$ python manage.py {' '.join(args)}")
    process = subprocess.Popen(
        [sys.executable, "manage.py", *args],
        cwd=HERE, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    for line in process.stdout:
        say("    " + line.rstrip("\n"))
    return process.wait()


def send_messages() -> str:
    from django.db import transaction
    from shop import receivers, tasks
    from shop.models import Order

    from django_sqs.tasks import enqueue_on_commit

    receivers.take_note(body="Restock the blue mugs")
    say("  shop_notes          Message               'Restock the blue mugs'")
    receivers.import_legacy(body="sku=MUG-BLUE;qty=12")
    say("  shop_legacy_import  Base64Message         'sku=MUG-BLUE;qty=12'")
    receivers.track_event(body={"event": "viewed", "item": "blue mug", "user": 42})
    say("  shop_events         JSONMessage           {'event': 'viewed', 'item': 'blue mug', 'user': 42}")
    with transaction.atomic():
        order = Order.objects.create(item="blue mug", quantity=2)
        # Sent when the transaction commits, so the worker finds the row.
        receivers.confirm_order.send_on_commit(instance=order)
    say(f"  shop_orders         ModelInstanceMessage  {order}, sent on commit")
    receivers.restock(body={"item": "red mug", "quantity": 24})
    say("  shop_restock        JSONMessage           {'item': 'red mug', 'quantity': 24}  (will RestartLater)")
    receivers.charge(body={"order": order.pk, "card": "declined"})
    say(f"  shop_payments       JSONMessage           {{'order': {order.pk}, 'card': 'declined'}}  (will fail)")
    with transaction.atomic():
        # A Django task, enqueued when the transaction commits.
        result = enqueue_on_commit(tasks.send_receipt, order.pk)
    say(f"  tasks__default__default  task shop.tasks.send_receipt({order.pk})  result id {result.id}")
    return result.id


def report(result_id: str) -> int:
    """What each receiver (and the task) wrote down; 1 if one of them never ran."""
    from shop import tasks
    from shop.models import Activity, Order

    missing = 0
    for name in RECEIVERS:
        texts = list(Activity.objects.filter(receiver=name).values_list("text", flat=True))
        for text in texts or ["(did not run)"]:
            say(f"  {name:<14} {text}")
        missing += not texts
    for order in Order.objects.order_by("pk"):
        say(f"  in the database: {order}")
    result = tasks.send_receipt.get_result(result_id)
    value = f" {result.return_value!r}" if result.is_finished else ""
    say(f"  task result: {result.status}{value} after {result.attempts} attempt(s)")
    return 1 if missing else 0


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="django-sqs-demo-") as tmp:
        say("== Starting a local SQS server (moto) on 127.0.0.1")
        with LocalSQSServer() as server:
            say(f"   SQS_ENDPOINT_URL={server.url}")
            env = environment(server.url, Path(tmp))
            os.environ.clear()
            os.environ.update(env)
            code = run(env)
            say()
            say(f"== Stopping the local SQS server at {server.url}")
        say("   stopped")
    return code


def run(env: dict[str, str]) -> int:
    import django
    from django.core.management import call_command
    from django.db import connections

    django.setup()
    say()
    say("== Migrating a fresh sqlite database")
    call_command("migrate", verbosity=0)
    say("   done")

    say()
    say("== Sending one message of every kind and enqueuing a task (queues are created on first send)")
    result_id = send_messages()
    connections.close_all()  # the worker processes open their own

    say()
    say("== Running the receivers until the queues are empty")
    say("   (shop_payments fails on purpose: its traceback below is expected)")
    worker_code = manage("runreceiver", "--burst", env=env)

    say()
    say("== What each receiver did")
    missing = report(result_id)
    connections.close_all()

    say()
    say("== Queue status: restock's message waits in flight (RestartLater), the declined payment")
    say("   too, until SQS moves it to the dead-letter queue after its third attempt")
    status_code = manage("sqs_status", env=env)
    return worker_code or status_code or missing


if __name__ == "__main__":
    sys.exit(main())
