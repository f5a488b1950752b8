"""The hand-written boto3 loop every figure is compared with: the ceiling.

    python bench/loop.py --endpoint URL --queue-url URL [--handler noop|latency|slow]

Receive up to 10 with a long poll, run the handler on each, delete them with one
DeleteMessageBatch; again. SIGTERM/SIGINT set a flag that is checked between messages and
between receives (a pending long poll is waited out, as most loops do); messages not
started are left to come back after their visibility timeout.
"""

import argparse
import os
import signal
import sys
import time

import boto3

stopping = False


def on_signal(signum, frame):
    global stopping
    stopping = True


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--queue-url", required=True)
    parser.add_argument("--handler", default="noop", choices=("noop", "latency", "slow"))
    parser.add_argument("--wait", type=int, default=20)
    parser.add_argument("--visibility-timeout", type=int, default=60)
    options = parser.parse_args()
    record = os.environ.get("BENCH_RECORD")
    slow_seconds = float(os.environ.get("BENCH_SLOW_SECONDS", "0.05"))

    def handle(message):
        if options.handler == "latency":
            started = time.time()
            with open(record, "a") as f:
                f.write(f"{message['Body']} {started}\n")
        elif options.handler == "slow":
            time.sleep(slow_seconds)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    client = boto3.session.Session().client("sqs", endpoint_url=options.endpoint, region_name="us-east-1")
    while not stopping:
        response = client.receive_message(
            QueueUrl=options.queue_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=options.wait,
            VisibilityTimeout=options.visibility_timeout,
        )
        done = []
        for message in response.get("Messages", []):
            if stopping:
                break
            handle(message)
            done.append(message)
        if done:
            client.delete_message_batch(
                QueueUrl=options.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
