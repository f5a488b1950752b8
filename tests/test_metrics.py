"""Prometheus metrics: fed by the worker's signals (sent by hand here) and by botocore's
events on the SQS client, scraped over HTTP, summed over forked worker processes."""

import argparse
import os
import signal
import time
import urllib.request

import pytest
from django.core.management import CommandError
from prometheus_client.parser import text_string_to_metric_families

from django_sqs import metrics, ops, send, send_many, signals
from django_sqs.client import get_client
from tests.processes import fork_worker, wait_until
from tests.queue_helpers import drain

SENDER = object


def emit(name, **kwargs):
    signals.emit(getattr(signals, name), SENDER, **kwargs)


def scrape(url) -> dict:
    """{(sample name, sorted labels): value}"""
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))))


@pytest.fixture
def served():
    urls = ops.configure(metrics_port=0)
    yield urls["metrics"]
    ops.shutdown()


def handle(queue, message_id, outcome, duration):
    emit("message_received", queue=queue, message_id=message_id, receive_count=1, sent_at=None)
    emit("message_handled", queue=queue, message_id=message_id, outcome=outcome, duration=duration, receive_count=1)


def test_signals_become_metrics(served):
    ops.worker_process_started("t__jobs#0")
    emit("queue_polled", queue="t__jobs", received=0, wait=20, ok=True)
    emit("queue_polled", queue="t__jobs", received=0, wait=20, ok=False)  # SQS failed: not an empty receive
    emit("queue_polled", queue="t__jobs", received=3, wait=20, ok=True)
    handle("t__jobs", "a", "ok", 0.003)
    handle("t__jobs", "b", "ok", 0.2)
    handle("t__jobs", "c", "error", 2.0)
    emit("message_received", queue="t__jobs", message_id="d", receive_count=1, sent_at=None)
    s = scrape(served)
    assert value(s, "django_sqs_messages_total", queue="t__jobs", outcome="ok") == 2
    assert value(s, "django_sqs_messages_total", queue="t__jobs", outcome="error") == 1
    assert value(s, "django_sqs_receiver_duration_seconds_count", queue="t__jobs") == 3
    assert value(s, "django_sqs_receiver_duration_seconds_bucket", queue="t__jobs", le="0.005") == 1
    assert value(s, "django_sqs_receiver_duration_seconds_bucket", queue="t__jobs", le="0.5") == 2
    assert value(s, "django_sqs_receiver_duration_seconds_sum", queue="t__jobs") == pytest.approx(2.203)
    assert value(s, "django_sqs_messages_in_hand", queue="t__jobs") == 1
    assert value(s, "django_sqs_empty_receives_total", queue="t__jobs") == 1
    age = value(s, "django_sqs_last_poll_age_seconds", queue="t__jobs")
    assert 0 <= age < 30
    assert value(s, "django_sqs_last_poll_timestamp_seconds", queue="t__jobs") == pytest.approx(time.time() - age, abs=30)


def test_requests_by_action_and_queue_match_the_servers_counts(server, served):
    ops.worker_process_started("t__jobs#0")
    send("jobs", body={"n": 1})
    send_many("jobs", [{"n": i} for i in range(15)])
    send("echo", body="x")
    records = drain("t__jobs")
    get_client().delete_message_batch(
        QueueUrl=get_client().get_queue_url(QueueName="t__jobs")["QueueUrl"],
        Entries=[{"Id": str(i), "ReceiptHandle": r["ReceiptHandle"]} for i, r in enumerate(records[:10])],
    )
    s = scrape(served)
    by_action: dict[str, float] = {}
    for (name, labels), count in s.items():
        if name == "django_sqs_requests_total":
            action = dict(labels)["action"]
            by_action[action] = by_action.get(action, 0) + count
    assert by_action == server.counts()
    assert value(s, "django_sqs_requests_total", action="SendMessage", queue="t__jobs") == 1
    assert value(s, "django_sqs_requests_total", action="SendMessageBatch", queue="t__jobs") == 2
    assert value(s, "django_sqs_requests_total", action="SendMessage", queue="t__echo") == 1
    assert value(s, "django_sqs_requests_total", action="GetQueueUrl", queue="t__jobs") >= 1


def test_several_processes_are_summed_by_the_parent():
    urls = ops.configure(metrics_port=0, processes=2)
    pids = []
    try:
        def work(n):
            def run():
                for i in range(n):
                    handle("t__jobs", f"{os.getpid()}-{i}", "ok", 0.01)
                emit("message_received", queue="t__jobs", message_id="held", receive_count=1, sent_at=None)
                emit("queue_polled", queue="t__jobs", received=1, wait=20, ok=True)
            return run

        pids = [fork_worker("t__jobs#0", work(3)), fork_worker("t__jobs#1", work(4))]

        def summed():
            s = scrape(urls["metrics"])
            return value(s, "django_sqs_messages_total", queue="t__jobs", outcome="ok") == 7 and s

        s = wait_until(summed, timeout=10)
        assert value(s, "django_sqs_messages_in_hand", queue="t__jobs") == 2
        # A worker process that died: its gauges go, its counts stay.
        os.kill(pids[0], signal.SIGKILL)
        os.waitpid(pids[0], 0)
        ops.worker_process_exited(pids.pop(0))
        s = scrape(urls["metrics"])
        assert value(s, "django_sqs_messages_in_hand", queue="t__jobs") == 1
        assert value(s, "django_sqs_messages_total", queue="t__jobs", outcome="ok") == 7
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        ops.shutdown()


def test_shutdown_stops_the_server_and_restores_the_environment():
    before = os.environ.get(metrics.ENV)
    urls = ops.configure(metrics_port="127.0.0.1:0")
    directory = os.environ[metrics.ENV]
    assert os.path.isdir(directory)
    ops.shutdown()
    assert os.environ.get(metrics.ENV) == before and not os.path.exists(directory)
    with pytest.raises(OSError):
        urllib.request.urlopen(urls["metrics"], timeout=2)


def test_without_prometheus_client_the_option_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(metrics, "prometheus_client", None)
    with pytest.raises(CommandError, match=r"pip install 'django-sqs-worker\[metrics\]'"):
        ops.configure(metrics_port=9100)


@pytest.mark.parametrize(
    "given, parsed",
    [("9100", ("127.0.0.1", 9100)), ("0.0.0.0:9100", ("0.0.0.0", 9100)), ("[::1]:0", ("::1", 0))],
)
def test_port_options_parse(given, parsed):
    parser = argparse.ArgumentParser()
    ops.add_arguments(parser)
    args = parser.parse_args(["--metrics-port", given, "--health-port", given, "--health-file", "/tmp/h"])
    assert args.metrics_port == parsed and args.health_port == parsed and args.health_file == "/tmp/h"


@pytest.mark.parametrize("given", ["x", "host:", "65536", "-1"])
def test_bad_port_options_are_usage_errors(given, capsys):
    parser = argparse.ArgumentParser()
    ops.add_arguments(parser)
    with pytest.raises(SystemExit):
        parser.parse_args(["--metrics-port", given])
    assert "argument --metrics-port" in capsys.readouterr().err
