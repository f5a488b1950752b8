"""python -m django_sqs.localserver as a real process: it keeps running without stdin
(``cmd &``, systemd, a container without -i) and stops on SIGTERM."""

import json
import subprocess
import sys
import time
import urllib.request

from django_sqs.localserver import COUNTS_PATH


def start(*args, stdin):
    process = subprocess.Popen(
        [sys.executable, "-m", "django_sqs.localserver", *args],
        stdin=stdin, stdout=subprocess.PIPE, text=True,
    )
    line = process.stdout.readline()
    assert line.startswith("SQS_ENDPOINT_URL="), line
    return process, line.strip().partition("=")[2]


def stop(process):
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    process.stdout.close()


def test_keeps_running_with_stdin_closed_and_stops_on_sigterm():
    process, url = start(stdin=subprocess.DEVNULL)  # stdin at end of file from the start
    try:
        time.sleep(1.5)
        assert process.poll() is None, "the server exited when its stdin closed"
        with urllib.request.urlopen(url + COUNTS_PATH, timeout=10) as response:
            assert json.loads(response.read()) == {}
        process.terminate()
        assert process.wait(10) == 0
    finally:
        stop(process)


def test_exit_with_stdin_stops_when_the_parent_closes_it():
    process, _ = start("--exit-with-stdin", stdin=subprocess.PIPE)
    try:
        process.stdin.close()
        assert process.wait(10) == 0
    finally:
        stop(process)
