"""Tasks the tests enqueue (the ones of django-tasks' own test suite, and a few more).

Each run is appended to ``runs`` (in-process tests) and, when DJANGO_SQS_TEST_RECORD
names a file, written there as a JSON line (worker subprocesses).
"""

import asyncio
import json
import os
import time

from django_sqs.tasks.compat import task

runs: list[dict] = []


def record(**entry):
    entry["pid"] = os.getpid()
    runs.append(entry)
    path = os.environ.get("DJANGO_SQS_TEST_RECORD")
    if path:
        with open(path, "a") as f:
            f.write(json.dumps(entry) + "\n")


@task
def noop_task(*args, **kwargs):
    record(task="noop", args=list(args), kwargs=kwargs)


@task
async def noop_task_async(*args, **kwargs):
    await asyncio.sleep(0)
    record(task="noop_async", args=list(args), kwargs=kwargs)
    return "async done"


@task
def calculate_meaning_of_life():
    return 42


@task
def failing_task_value_error():
    raise ValueError("This task failed due to ValueError")


@task
def failing_task_system_exit():
    raise SystemExit("This task failed due to SystemExit")


@task
def failing_task_keyboard_interrupt():
    raise KeyboardInterrupt("This task failed due to KeyboardInterrupt")


@task
def complex_exception():
    raise ValueError(ValueError("This task failed"))


@task
def complex_return_value():
    return lambda: 42  # not JSON: the task fails with TypeError


@task(takes_context=True)
def get_task_id(context):
    return context.task_result.id


@task(takes_context=True)
def attempt_and_id(context, fail_until: int = 0):
    record(task="attempt", attempt=context.attempt, id=context.task_result.id)
    if context.attempt <= fail_until:
        raise ValueError(f"attempt {context.attempt} fails")
    return context.attempt


@task
def sleep_for(seconds: float, label: str = ""):
    record(task="sleep", phase="start", label=label)
    time.sleep(seconds)
    record(task="sleep", phase="end", label=label)
    return label


@task(queue_name="emails")
def send_email(to: str):
    record(task="email", to=to)
    return to


@task(queue_name="orders.fifo")
def fifo_order(n: int):
    record(task="order", n=n)
    return n


def not_a_task():
    return "plain function"


@task(takes_context=True)
def slow_attempt(context, seconds: float, slow_until: int = 1, label: str = ""):
    """Sleeps ``seconds`` on attempts up to ``slow_until``; returns the attempt."""
    record(task="slow", phase="start", attempt=context.attempt, label=label)
    if context.attempt <= slow_until:
        time.sleep(seconds)
    record(task="slow", phase="end", attempt=context.attempt, label=label)
    return context.attempt


@task
async def failing_task_async():
    await asyncio.sleep(0)
    raise ValueError("This async task failed")


@task(queue_name="orders.fifo", takes_context=True)
def fifo_attempt(context, n: int, fail_until: int = 0):
    record(task="fifo_attempt", n=n, attempt=context.attempt)
    if context.attempt <= fail_until:
        raise ValueError(f"attempt {context.attempt} fails")
    return context.attempt
