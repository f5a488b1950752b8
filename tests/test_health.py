"""The health reporter fed by the worker's signals (sent by hand here), its status file, the
verdict, ``sqs_health`` and the HTTP probe; several processes with real forks."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest
from django.core.management import CommandError, call_command

from django_sqs import health, ops, signals
from tests.processes import ROOT, fork_worker, wait_until

SENDER = object


def emit(name, **kwargs):
    signals.emit(getattr(signals, name), SENDER, **kwargs)


@pytest.fixture
def reporter(tmp_path):
    r = health.HealthReporter(str(tmp_path / "health.json"), "t__jobs#0", interval=0.05).start()
    yield r
    r.stop()


def written_after(path, moment):
    """The status file once it was written after ``moment``."""
    return wait_until(lambda: (d := health.read(path)) and d["written"] > moment and d, timeout=10)


def test_idle_in_a_long_poll_is_healthy(reporter):
    emit("worker_started", queues=["t__jobs"], pid=os.getpid(), threads=1)
    emit("queue_polled", queue="t__jobs", received=0, wait=20, ok=True)
    data = written_after(reporter.path, time.time())
    polled = data["queues"]["t__jobs"]["polled"]
    # The next queue_polled comes when the 20 s poll returns; meanwhile the default
    # max-age (60 s) keeps the worker healthy, a max-age below the poll period would not.
    # (The file itself is rewritten every interval meanwhile: "written" moves on.)
    assert health.judge(data | {"written": polled + 25}, max_age=health.DEFAULT_MAX_AGE, max_busy=600, now=polled + 25).healthy
    lagging = health.judge(data | {"written": polled + 25}, max_age=10, max_busy=600, now=polled + 25)
    assert not lagging.healthy and "not polling" in lagging.reason


def test_stuck_receiver_is_unhealthy_until_it_finishes(reporter):
    emit("queue_polled", queue="t__jobs", received=1, wait=20, ok=True)
    emit("message_received", queue="t__jobs", message_id="m-1", receive_count=1, sent_at=None)
    data = written_after(reporter.path, time.time())
    assert data["in_hand"] == 1
    later = data["busy_since"] + 30
    stuck = health.judge(data | {"written": later}, max_age=60, max_busy=20, now=later)
    assert not stuck.healthy and "receiver stuck" in stuck.reason and "id=m-1" in stuck.reason
    # Busy, not polling for longer than max-age, but within max-busy: healthy.
    busy = health.judge(data | {"written": later}, max_age=10, max_busy=60, now=later)
    assert busy.healthy and "busy" in busy.reason
    emit("message_handled", queue="t__jobs", message_id="m-1", outcome="ok", duration=0.1, receive_count=1)
    data = written_after(reporter.path, time.time())
    assert data["in_hand"] == 0 and data["busy_since"] is None


def test_stopping_is_reported_at_once(reporter):
    emit("queue_polled", queue="t__jobs", received=0, wait=20, ok=True)
    emit("worker_stopping", queues=["t__jobs"], pid=os.getpid(), reason="signal")
    result = health.verdict(reporter.path)  # written by the listener itself, no wait
    assert not result.healthy and "stopping (signal)" in result.reason


def test_a_file_no_longer_written_means_the_worker_is_gone(reporter):
    emit("queue_polled", queue="t__jobs", received=0, wait=20, ok=True)
    written_after(reporter.path, time.time())
    assert health.verdict(reporter.path).healthy
    reporter.writer.stop()  # what a dead process does: nothing
    result = wait_until(lambda: (v := health.verdict(reporter.path)) and not v.healthy and v, timeout=10)
    assert "the worker process is gone" in result.reason


def test_status_file_is_replaced_atomically(tmp_path):
    path = str(tmp_path / "health.json")
    writer = health.Writer(path, lambda: {"padding": "x" * 50_000}, interval=0)
    writer.write()
    writer.start()
    try:
        for _ in range(300):
            with open(path) as f:
                assert json.load(f)["padding"]  # never empty, never cut short
    finally:
        writer.stop()
        writer.join()
    assert os.listdir(tmp_path) == ["health.json"]  # no temporary file left behind


def test_sqs_health_command_exit_codes(reporter, tmp_path):
    with pytest.raises(CommandError, match="no readable status file") as info:
        call_command("sqs_health", str(tmp_path / "missing.json"))
    assert info.value.returncode == 1
    emit("queue_polled", queue="t__jobs", received=0, wait=20, ok=True)
    written_after(reporter.path, time.time())
    call_command("sqs_health", reporter.path, "--max-age", "30")
    emit("message_received", queue="t__jobs", message_id="m-2", receive_count=1, sent_at=None)
    written_after(reporter.path, time.time() + 0.3)
    with pytest.raises(CommandError, match="receiver stuck") as info:
        call_command("sqs_health", reporter.path, "--max-busy", "0.2")
    assert info.value.returncode == 1
    with pytest.raises(CommandError, match="--max-age"):
        call_command("sqs_health", reporter.path, "--max-age", "0")


def test_probe_without_django_setup(reporter):
    emit("queue_polled", queue="t__jobs", received=0, wait=20, ok=True)
    written_after(reporter.path, time.time())
    probe = [sys.executable, "-m", "django_sqs.management.commands.sqs_health"]
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT)}  # no DJANGO_SETTINGS_MODULE
    ok = subprocess.run([*probe, reporter.path], capture_output=True, text=True, env=env, timeout=60)
    assert ok.returncode == 0 and ok.stdout.startswith("healthy:"), ok.stderr
    emit("worker_stopping", queues=["t__jobs"], pid=os.getpid(), reason="limit")
    bad = subprocess.run([*probe, reporter.path], capture_output=True, text=True, env=env, timeout=60)
    assert bad.returncode == 1 and "stopping (limit)" in bad.stderr


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_health_port_serves_the_verdict(tmp_path):
    urls = ops.configure(health_file=str(tmp_path / "h.json"), health_port=0)
    try:
        assert get(urls["health"])[0] == 503  # no worker yet
        ops.worker_process_started("t__jobs#0")
        emit("queue_polled", queue="t__jobs", received=0, wait=20, ok=True)
        status, text = wait_until(lambda: (r := get(urls["health"])) and r[0] == 200 and r, timeout=10)
        assert text.startswith("healthy:")
        emit("message_received", queue="t__jobs", message_id="m-3", receive_count=1, sent_at=None)
        status, text = wait_until(lambda: (r := get(urls["health"] + "?max_busy=0.2")) and r[0] == 503 and r, timeout=10)
        assert "receiver stuck" in text
        assert get(urls["health"] + "?max_busy=soon")[0] == 400
    finally:
        ops.shutdown()
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(urls["health"], timeout=2)


def test_health_port_alone_judges_a_file_of_its_own():
    urls = ops.configure(health_port="127.0.0.1:0")
    try:
        ops.worker_process_started("t__jobs#0")
        emit("queue_polled", queue="t__jobs", received=0, wait=20, ok=True)
        wait_until(lambda: get(urls["health"])[0] == 200, timeout=10)
    finally:
        ops.shutdown()


def test_several_processes_one_verdict(tmp_path):
    path = str(tmp_path / "health.json")
    ops.configure(health_file=path, processes=2)
    pids = []
    try:
        def polling():
            def loop():
                while True:
                    emit("queue_polled", queue="t__jobs", received=0, wait=20, ok=True)
                    time.sleep(0.2)
            threading.Thread(target=loop, daemon=True).start()

        def stuck():
            emit("queue_polled", queue="t__other", received=1, wait=20, ok=True)
            emit("message_received", queue="t__other", message_id="m-stuck", receive_count=1, sent_at=None)

        pids.append(fork_worker("t__jobs#0", polling))
        pids.append(fork_worker("t__other#0", stuck))
        assert sorted(os.path.basename(p) for p in wait_until(lambda: len(health.worker_paths(path)) == 2 and health.worker_paths(path))) == [
            "health.json.t__jobs-0", "health.json.t__other-0",
        ]
        wait_until(lambda: health.verdict(path).healthy, timeout=10)
        result = wait_until(lambda: (v := health.verdict(path, max_busy=0.5)) and not v.healthy and v, timeout=10)
        assert "t__other#0" in result.reason and "m-stuck" in result.reason and "t__jobs#0" not in result.reason
        # The supervisor reaps the stuck one: its file goes, the other decides alone.
        os.kill(pids[1], signal.SIGKILL)
        os.waitpid(pids[1], 0)
        ops.worker_process_exited(pids.pop())
        result = health.verdict(path, max_busy=0.5)
        assert result.healthy and "1 of 2 worker processes healthy" in result.reason
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        ops.shutdown()
    # The supervisor's own file is no longer written after shutdown: the verdict goes stale.
    assert health.read(path)["supervisor"] is True


def test_a_worker_process_that_died_is_unhealthy(tmp_path):
    path = str(tmp_path / "health.json")
    pid = os.fork()
    if pid == 0:
        try:
            health.HealthReporter(path, "t__jobs#0", interval=0.05).start()
            emit("queue_polled", queue="t__jobs", received=0, wait=20, ok=True)
            time.sleep(600)
        finally:
            os._exit(0)
    try:
        wait_until(lambda: health.verdict(path).healthy, timeout=10)
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    result = wait_until(lambda: (v := health.verdict(path)) and not v.healthy and v, timeout=10)
    assert f"worker pid {pid}" in result.reason and "gone" in result.reason


def test_configure_checks_its_options(tmp_path):
    with pytest.raises(CommandError, match="directory does not exist"):
        ops.configure(health_file=str(tmp_path / "nope" / "h.json"))
    with pytest.raises(CommandError, match="between 0 and 65535"):
        ops.configure(health_port=70000)
    with pytest.raises(CommandError, match="at least 1"):
        ops.configure(processes=0)


def test_configure_removes_files_of_an_earlier_run(tmp_path):
    path = str(tmp_path / "health.json")
    for name in (path, path + ".t__jobs-0"):
        with open(name, "w") as f:
            json.dump({"pid": 1, "written": time.time(), "queues": {"q": {"polled": time.time()}}}, f)
    ops.configure(health_file=path)
    try:
        assert not os.path.exists(path) and health.worker_paths(path) == []
    finally:
        ops.shutdown()
