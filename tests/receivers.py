"""Receivers the tests use; picked up by autodiscovery like any app's receivers module.

Each call is appended to ``calls`` (in-process tests) and, when the environment names a
file in DJANGO_SQS_TEST_RECORD, written there as a JSON line (worker subprocesses).
"""

import json
import os
import time

from django.db import connection

from django_sqs import RestartLater, receiver
from django_sqs.message import JSONMessage, ModelInstanceMessage

calls: list[dict] = []


def record(message, **extra):
    entry = {
        "queue": message.queue_name,
        "id": message.id,
        "raw": message.raw_body,
        "pid": os.getpid(),
        "receive_count": message.receive_count,
        **extra,
    }
    calls.append(entry)
    path = os.environ.get("DJANGO_SQS_TEST_RECORD")
    if path:
        with open(path, "a") as f:
            f.write(json.dumps(entry) + "\n")


@receiver("echo", suffixes=("big", "small"))
def echo(message):
    record(message, body=message.get_body())


def _act(message):
    """Do what the JSON body says: ok, fail, restart (with delay), sleep, db."""
    body = message.get_body()
    action = body.get("action", "ok")
    record(message, body=body, phase="start")
    if action == "fail":
        raise ValueError(f"failing on purpose: {body}")
    if action == "restart":
        raise RestartLater(delay=body.get("delay"))
    if action == "sleep":
        time.sleep(body["seconds"])
    if action == "db":
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        record(message, body=body, phase="db", backend_pid=_backend_pid())
    record(message, body=body, phase="end")


def _backend_pid():
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


@receiver("jobs", message_class=JSONMessage)
def jobs(message):
    _act(message)


@receiver("keep_on_error", message_class=JSONMessage, delete_on_error=False, visibility_timeout=2)
def keep_on_error(message):
    _act(message)


@receiver("at_most_once", message_class=JSONMessage, delete_on_start=True)
def at_most_once(message):
    _act(message)


@receiver("closes_db", message_class=JSONMessage, close_database=True)
def closes_db(message):
    _act(message)


@receiver("slow", message_class=JSONMessage, visibility_timeout=2)
def slow(message):
    _act(message)


@receiver("photos", message_class=ModelInstanceMessage)
def photos(message):
    record(message, title=message.get_instance().title)


@receiver
def bare(message):
    record(message, body=message.get_body())


if os.environ.get("DJANGO_SQS_TEST_PARENT_QUERY"):
    # The supervisor's process opens a connection before it forks (at start-up, as a
    # project's own code might); children must not inherit and share it.
    _pid = _backend_pid()
    path = os.environ.get("DJANGO_SQS_TEST_RECORD")
    if path:
        with open(path, "a") as f:
            f.write(json.dumps({"phase": "parent", "pid": os.getpid(), "backend_pid": _pid}) + "\n")


# -- The hardened worker and its threads (issues 10 and 11) ---------------------------------
# Each entry also says when (wall clock) and on which thread it ran, so tests can see
# overlap and start order; a body of {"sleep": S} waits S seconds between start and end.

import asyncio  # noqa: E402
import threading  # noqa: E402

from django.db import connections  # noqa: E402


def _timed(message, phase, **extra):
    record(
        message, phase=phase, t=time.time(), thread=threading.get_ident(),
        group=getattr(message, "group_id", None), **extra,
    )


def _work(message):
    body = message.get_body()
    _timed(message, "start", body=body)
    if body.get("action") == "restart":
        raise RestartLater(delay=body.get("delay"))
    if body.get("action") == "restart_once" and message.receive_count == 1:
        raise RestartLater(delay=body.get("delay"))
    if body.get("action") == "fail":
        raise ValueError(f"failing on purpose: {body}")
    if body.get("sleep"):
        time.sleep(body["sleep"])
    if body.get("action") == "db":
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        connections_used.append((threading.get_ident(), connections["default"]))
    _timed(message, "end", body=body)


#: (thread, its own default database connection) for each ``work`` message that used it.
connections_used: list = []


@receiver("work", message_class=JSONMessage)
def work(message):
    _work(message)


@receiver("vt1", message_class=JSONMessage, visibility_timeout=1)
def vt1(message):
    _work(message)


@receiver("vt3", message_class=JSONMessage, visibility_timeout=3)
def vt3(message):
    _work(message)


@receiver("prio_high", message_class=JSONMessage)
def prio_high(message):
    _work(message)


@receiver("prio_mid", message_class=JSONMessage)
def prio_mid(message):
    _work(message)


@receiver("prio_low", message_class=JSONMessage)
def prio_low(message):
    _work(message)


@receiver("groups.fifo", message_class=JSONMessage)
def groups(message):
    _work(message)


@receiver("work_async", message_class=JSONMessage)
async def work_async(message):
    body = message.get_body()
    _timed(message, "start", body=body)
    await asyncio.sleep(body.get("sleep", 0))
    _timed(message, "end", body=body, loop=id(asyncio.get_running_loop()))

# --- review experiments (worktree only) ----------------------------------------------
import sys  # noqa: E402


def _act_more(message, body):
    action = body.get("action", "ok")
    if action == "sysexit":
        sys.exit(body.get("code", 0))
    if action == "kbint":
        raise KeyboardInterrupt
    if action == "sysexit_exc":
        raise SystemExit(2)


@receiver("rv_exits", message_class=JSONMessage, visibility_timeout=30)
def rv_exits(message):
    body = message.get_body()
    record(message, body=body, phase="start")
    _act_more(message, body)
    if body.get("action") == "sleep":
        time.sleep(body["seconds"])
    record(message, body=body, phase="end")


@receiver("rv_async", message_class=JSONMessage, visibility_timeout=30)
async def rv_async(message):
    body = message.get_body()
    record(message, body=body, phase="start")
    action = body.get("action", "ok")
    if action == "sysexit":
        raise SystemExit(0)
    if action == "kbint":
        raise KeyboardInterrupt
    if action == "fail":
        raise ValueError("async fail")
    if action == "sleep":
        await asyncio.sleep(body["seconds"])
    record(message, body=body, phase="end")


@receiver("rv_kept", message_class=JSONMessage, delete_on_error=False, visibility_timeout=30)
def rv_kept(message):
    body = message.get_body()
    record(message, body=body, phase="start", t=time.time())
    if body.get("action") == "restart":
        raise RestartLater()
    raise ValueError("kept failure")


@receiver("rv_hi", message_class=JSONMessage, visibility_timeout=30)
def rv_hi(message):
    _act(message)


@receiver("rv_mid", message_class=JSONMessage, visibility_timeout=30)
def rv_mid(message):
    _act(message)


@receiver("rv_lo", message_class=JSONMessage, visibility_timeout=30)
def rv_lo(message):
    _act(message)


if os.environ.get("DJANGO_SQS_TEST_CRASH_POLLER"):
    # Experiment: the poller's first round raises a bug (not an SQSError).
    from django_sqs.worker import polling as _polling

    _orig_round = _polling.Poller.round
    _crashed = []

    def _crashing_round(self, room):
        rec = os.environ["DJANGO_SQS_TEST_RECORD"]
        if not _crashed and not (os.path.exists(rec) and "poller-crash" in open(rec).read()):
            _crashed.append(1)
            with open(os.environ["DJANGO_SQS_TEST_RECORD"], "a") as f:
                f.write(json.dumps({"phase": "poller-crash", "pid": os.getpid()}) + "\n")
            raise RuntimeError("poller bug (experiment)")
        return _orig_round(self, room)

    _polling.Poller.round = _crashing_round


@receiver("rv_fifo.fifo", message_class=JSONMessage, visibility_timeout=30, delete_on_error=False)
def rv_fifo(message):
    body = message.get_body()
    record(message, body=body, phase="start", t=time.time(), group=message.group_id if hasattr(message, "group_id") else None)
    if body.get("fail") and message.receive_count == 1:
        raise ValueError("first try fails")
    time.sleep(body.get("seconds", 0.1))
    record(message, body=body, phase="end", t=time.time())


@receiver("rv_vt1", message_class=JSONMessage, visibility_timeout=1)
def rv_vt1(message):
    _act(message)


@receiver("rv_vt2", message_class=JSONMessage, visibility_timeout=2)
def rv_vt2(message):
    body = message.get_body()
    if body.get("action") in ("sysexit", "kbint"):
        record(message, body=body, phase="start")
        _act_more(message, body)
    _act(message)


def _db_probe():
    import threading as _t
    was_open = connection.connection is not None
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return was_open, _t.current_thread().name


@receiver("rv_async_db", message_class=JSONMessage, visibility_timeout=30, close_database=True)
async def rv_async_db(message):
    from asgiref.sync import sync_to_async

    was_open, thread = await sync_to_async(_db_probe)()
    record(message, phase="end", was_open=was_open, orm_thread=thread)


@receiver("rv_sync_db", message_class=JSONMessage, visibility_timeout=30, close_database=True)
def rv_sync_db(message):
    was_open, thread = _db_probe()
    record(message, phase="end", was_open=was_open, orm_thread=thread)


if os.environ.get("DJANGO_SQS_TEST_KILL_AFTER"):
    # A worker SIGKILLed right after a given step (tests/kill_points.py).
    from tests import kill_points

    kill_points.install(os.environ["DJANGO_SQS_TEST_KILL_AFTER"])
