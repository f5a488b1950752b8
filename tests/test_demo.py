"""The demo of README.org (example_project/demo.py), end to end against its own server."""

import os
import re
import socket
import subprocess
import sys

from tests.processes import ROOT


def test_demo_runs_every_receiver_and_shows_the_status(tmp_path):
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "AWS_"))}
    env["PYTHONPATH"] = str(ROOT)  # as dev.py's editable install would
    result = subprocess.run(
        [sys.executable, str(ROOT / "example_project" / "demo.py")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )
    out = result.stdout
    assert result.returncode == 0, out + result.stderr

    # What each receiver did, one per message class, RestartLater and a failure.
    did = out.split("== What each receiver did\n")[1].split("\n\n")[0].splitlines()
    assert [line.split()[0] for line in did[:7]] == [
        "take_note", "import_legacy", "track_event", "confirm_order", "restock", "charge", "send_receipt",
    ]
    assert "noted 'Restock the blue mugs'" in did[0]
    assert "imported 'sku=MUG-BLUE;qty=12' (on the wire: 'c2t1PU1VRy1CTFVFO3F0eT0xMg==')" in did[1]
    assert "user 42 viewed 'blue mug'" in did[2]
    assert "confirmed order #1" in did[3]
    assert "(RestartLater)" in did[4]
    assert "card declined for order #1" in did[5]
    assert "receipt sent for order #1" in did[6]  # the Django task, enqueued on commit
    assert "in the database: order #1 (2 × blue mug, confirmed)" in did[7]
    assert did[8].startswith("  task result: SUCCESSFUL 'receipt sent for order #1") and did[8].endswith("after 1 attempt(s)")
    assert "shop.receivers.PaymentDeclined: card declined" in out  # the failure's traceback, logged

    # The final status: handled queues empty, the two kept messages in flight, the DLQ under its queue.
    status = out.split("$ python manage.py sqs_status\n")[1].split("\n\n")[0].splitlines()
    rows = {line.strip().split()[0]: line.split()[1:] for line in status}
    assert rows["QUEUE"] == ["VISIBLE", "IN", "FLIGHT", "DELAYED"]
    assert rows["example__tasks__default__default"] == ["0", "0", "0"]
    for name in ("notes", "legacy_import", "events", "orders"):
        assert rows[f"example__shop_{name}"] == ["0", "0", "0"]
    assert rows["example__shop_restock"] == ["0", "1", "0"]
    assert rows["example__shop_payments"] == ["0", "1", "0"]
    assert rows["example__shop_payments_dlq"] == ["0", "0", "0", "(dead-letter", "queue)"]
    dlq_line = next(line for line in status if "shop_payments_dlq" in line)
    assert dlq_line.startswith("      example__shop_payments_dlq")  # indented under its queue
    assert status.index(dlq_line) == [line.strip().split()[0] for line in status].index("example__shop_payments") + 1

    # The server it started is stopped again.
    url = re.search(r"SQS_ENDPOINT_URL=(http://127\.0\.0\.1:(\d+))", out)
    assert out.rstrip().endswith("stopped")
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", int(url.group(2)))) != 0
