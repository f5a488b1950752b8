"""Health probe and metrics of a real ``runreceiver`` against the local SQS server.

These need the second-generation worker (the ``django_sqs/worker/`` package), which sends
the signals and calls ``django_sqs.ops``; until it is merged, runreceiver has no
``--health-file``/``--metrics-port`` and this module does not run. It starts running by
itself when ``django_sqs/worker.py`` gives way to the package.
"""

import re
import signal
import subprocess
import sys
import time
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from django_sqs import send_many
from tests.processes import ROOT, ReceiverProcess, wait_until
from tests.queue_helpers import counts


def probe(path, *args):
    """``python -m ...sqs_health PATH ARGS``: (exit code, output)."""
    done = subprocess.run(
        [sys.executable, "-m", "django_sqs.management.commands.sqs_health", str(path), *args],
        capture_output=True, text=True, cwd=ROOT, timeout=60,
    )
    return done.returncode, done.stdout + done.stderr


def healthy(path, *args):
    return probe(path, *args)[0] == 0


def test_idle_in_a_long_poll_is_healthy(server, tmp_path):
    path = tmp_path / "health.json"
    send_many("jobs", [{"n": 1}])  # the first receive returns at once; then the queue is empty
    with ReceiverProcess(tmp_path, server.url, "jobs", "--health-file", str(path), env={"DJANGO_SQS_TEST_POLL": "20"}) as worker:
        worker.wait_for(lambda: "polled" in probe(path)[1], message="a poll on record")
        # 25 s, longer than one 20 s long poll on the empty queue: healthy all along.
        deadline = time.monotonic() + 25
        while time.monotonic() < deadline:
            code, out = probe(path)
            assert code == 0 and "polled" in out, out  # not merely "starting"
            time.sleep(2)
        # A max-age below the poll period cannot tell an idle worker from a wedged one.
        worker.wait_for(lambda: "not polling" in probe(path, "--max-age", "3")[1], timeout=30)


def test_stuck_receiver_is_unhealthy(server, tmp_path):
    path = tmp_path / "health.json"
    send_many("jobs", [{"action": "sleep", "seconds": 60}])
    with ReceiverProcess(tmp_path, server.url, "jobs", "--health-file", str(path)) as worker:
        worker.wait_for(lambda: worker.records(phase="start"), message="the receiver to start")
        code, out = wait_until(lambda: (r := probe(path, "--max-busy", "2")) and r[0] == 1 and r, timeout=30)
        assert "receiver stuck" in out
        assert healthy(path, "--max-busy", "300")


def test_unhealthy_after_the_worker_died(server, tmp_path):
    path = tmp_path / "health.json"
    with ReceiverProcess(tmp_path, server.url, "jobs", "--health-file", str(path)) as worker:
        worker.wait_for(lambda: healthy(path), message="healthy")
        worker.signal(signal.SIGKILL)
        worker.wait()
        code, out = wait_until(lambda: (r := probe(path)) and r[0] == 1 and r, timeout=30)
        assert "gone" in out


def test_several_processes_are_judged_together(server, tmp_path):
    path = tmp_path / "health.json"
    with ReceiverProcess(tmp_path, server.url, "jobs", "echo", "--health-file", str(path)) as worker:
        worker.wait_for(lambda: "2 of 2 worker processes healthy" in probe(path)[1], message="both healthy")


def metrics_url(worker):
    match = worker.wait_for(lambda: re.search(r"metrics endpoint url=(\S+)", worker.log()), message="metrics url")
    return match.group(1)


def scrape(url):
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    return [s for family in text_string_to_metric_families(text) for s in family.samples]


def requests_by_action(samples):
    totals: dict[str, float] = {}
    for s in samples:
        if s.name == "django_sqs_requests_total":
            totals[s.labels["action"]] = totals.get(s.labels["action"], 0) + s.value
    return totals


def test_metrics_scraped_from_a_running_worker_match_the_server(server, tmp_path):
    send_many("jobs", [{"n": i} for i in range(25)])
    send_many("jobs", [{"action": "fail"}] * 2)
    server.reset_counts()  # from here on, every request is the worker's
    env = {"DJANGO_SQS_TEST_POLL": "20"}  # once idle, one request per 20 s: a quiet moment to compare
    with ReceiverProcess(tmp_path, server.url, "jobs", "--metrics-port", "0", env=env) as worker:
        url = metrics_url(worker)
        # (Asking SQS from here would add requests of ours to the server's counts.)
        worker.wait_for(lambda: len(worker.records(phase="start")) == 27, message="all handled")
        # Deletes go out in the background, within half a second of the last handling.
        wait_until(
            lambda: (lambda mine: mine == server.counts() and mine.get("DeleteMessageBatch", 0) >= 3)(
                requests_by_action(scrape(url))
            ),
            timeout=30,
        )
        samples = scrape(url)
        by = {(s.name, s.labels.get("outcome")): s.value for s in samples if s.labels.get("queue") == "t__jobs"}
        assert by[("django_sqs_messages_total", "ok")] == 25
        assert by[("django_sqs_messages_total", "error")] == 2
        assert by[("django_sqs_receiver_duration_seconds_count", None)] == 27
        assert by[("django_sqs_messages_in_hand", None)] == 0
        assert by[("django_sqs_last_poll_age_seconds", None)] < 60
        assert requests_by_action(samples)["ReceiveMessage"] >= 3  # receives, then the idle long poll
        assert requests_by_action(samples)["DeleteMessageBatch"] >= 3  # 27 deletes, 10 a request at most
    assert counts("t__jobs") == (0, 0)
