"""Tasks run by runreceiver (in-process, --burst, moto): Django's worker sequence, retries,
the dead-letter queue, run_after beyond 15 minutes and bad messages."""

import datetime as dt
import json
import logging

import pytest
from django.core.management import call_command
from django.utils import timezone

from django_sqs import provisioning
from django_sqs.registry import registry
from django_sqs.sending import send_message
from django_sqs.tasks import compat, enqueue_many
from django_sqs.tasks.compat import TaskResultStatus, task_backends
from django_sqs.tasks.enqueueing import envelope_of, new_result
from django_sqs.tasks.envelope import TaskMessage
from django_sqs.tasks.running import MAX_WORKER_ID
from tests import tasks
from tests.task_helpers import (  # noqa: F401 (fresh_runs: a fixture)
    DEFAULT,
    FRAMEWORK_LOGGER,
    bodies,
    counts,
    fresh_runs,
    use_backend,
    work,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fresh_runs")]


def test_success_is_recorded_with_times_and_one_attempt(sqs, settings):
    use_backend(settings)
    result = tasks.calculate_meaning_of_life.enqueue()
    work()
    result.refresh()
    assert result.status == TaskResultStatus.SUCCESSFUL and result.is_finished
    assert result.return_value == 42
    assert result.attempts == 1 and len(result.worker_ids[0]) <= MAX_WORKER_ID
    assert result.enqueued_at <= result.started_at <= result.finished_at
    assert result.last_attempted_at == result.started_at
    assert result.errors == []
    assert counts(sqs, DEFAULT) == {"visible": 0, "in_flight": 0, "delayed": 0}


def test_arguments_reach_the_task(sqs, settings):
    use_backend(settings)
    tasks.noop_task.enqueue(1, [2], key="v")
    work()
    assert tasks.runs == [{"task": "noop", "args": [1, [2]], "kwargs": {"key": "v"}, "pid": tasks.runs[0]["pid"]}]


def test_started_and_finished_signals_with_the_backend_class_and_logs(sqs, settings, caplog):
    use_backend(settings)
    seen = []

    def started(sender, task_result, **kwargs):
        seen.append(("started", sender, task_result.status, task_result.attempts))

    def finished(sender, task_result, **kwargs):
        seen.append(("finished", sender, task_result.status, task_result.attempts))

    compat.task_started.connect(started)
    compat.task_finished.connect(finished)
    try:
        result = tasks.noop_task.enqueue()
        with caplog.at_level(logging.INFO, logger=FRAMEWORK_LOGGER):
            work()
    finally:
        compat.task_started.disconnect(started)
        compat.task_finished.disconnect(finished)
    backend_class = type(task_backends["default"])
    assert seen == [
        ("started", backend_class, TaskResultStatus.RUNNING, 1),
        ("finished", backend_class, TaskResultStatus.SUCCESSFUL, 1),
    ]
    path = "tests.tasks.noop_task"
    assert f"Task id={result.id} path={path} state={TaskResultStatus.RUNNING}" in caplog.messages
    assert f"Task id={result.id} path={path} state={TaskResultStatus.SUCCESSFUL}" in caplog.messages


@pytest.mark.parametrize(
    "task, exception, text",
    [
        (tasks.failing_task_value_error, ValueError, "ValueError: This task failed due to ValueError\n"),
        (tasks.failing_task_system_exit, SystemExit, "SystemExit: This task failed due to SystemExit\n"),
        (tasks.failing_task_keyboard_interrupt, KeyboardInterrupt, "KeyboardInterrupt: This task failed due to KeyboardInterrupt\n"),
        (tasks.complex_exception, ValueError, "ValueError: This task failed\n"),
    ],
)
def test_failure_is_recorded_logged_once_and_the_worker_goes_on(sqs, settings, caplog, task, exception, text):
    use_backend(settings)
    result = task.enqueue()
    after = tasks.calculate_meaning_of_life.enqueue()
    with caplog.at_level(logging.INFO, logger=FRAMEWORK_LOGGER):
        work()
    result.refresh()
    assert result.status == TaskResultStatus.FAILED
    with pytest.raises(ValueError, match="Task failed"):
        result.return_value  # noqa: B018
    (error,) = result.errors
    assert error.exception_class is exception
    assert error.traceback.endswith(text)
    failed_logs = [r for r in caplog.records if r.name == FRAMEWORK_LOGGER and r.levelno == logging.ERROR]
    assert len(failed_logs) == 1 and failed_logs[0].exc_info[0] is exception
    after.refresh()
    assert after.status == TaskResultStatus.SUCCESSFUL  # the worker went on
    assert counts(sqs, DEFAULT)["visible"] + counts(sqs, DEFAULT)["in_flight"] == 0  # no DLQ: deleted


def test_non_json_return_value_fails_the_task(sqs, settings):
    use_backend(settings)
    result = tasks.complex_return_value.enqueue()
    work()
    result.refresh()
    assert result.status == TaskResultStatus.FAILED
    assert result.errors[0].exception_class is TypeError
    assert "Unsupported type" in result.errors[0].traceback


def test_context_carries_the_result_id(sqs, settings):
    use_backend(settings)
    result = tasks.get_task_id.enqueue()
    work()
    result.refresh()
    assert result.return_value == result.id


def test_async_task_runs_to_its_result(sqs, settings):
    use_backend(settings)
    result = tasks.noop_task_async.enqueue("a")
    work()
    result.refresh()
    assert result.status == TaskResultStatus.SUCCESSFUL and result.return_value == "async done"
    assert tasks.runs[0]["task"] == "noop_async"


def test_async_task_failure_is_recorded_and_logged_with_its_traceback(sqs, settings, caplog):
    use_backend(settings, MAX_ATTEMPTS=2, BACKOFF=0)
    result = tasks.failing_task_async.enqueue()
    with caplog.at_level(logging.INFO, logger=FRAMEWORK_LOGGER):
        work()
    result.refresh()
    assert result.status == TaskResultStatus.FAILED and result.attempts == 2  # retried, then spent
    assert [e.exception_class for e in result.errors] == [ValueError, ValueError]
    assert result.errors[0].traceback.endswith("ValueError: This async task failed\n")
    # The framework logs the final failure at ERROR; the first attempt, retried, is READY again.
    failed_logs = [r for r in caplog.records if r.name == FRAMEWORK_LOGGER and r.levelno == logging.ERROR]
    assert len(failed_logs) == 1 and failed_logs[0].exc_info[0] is ValueError
    ours = [r for r in caplog.records if r.name == "django_sqs.tasks"]
    assert [r.levelno for r in ours] == [logging.WARNING, logging.ERROR]
    assert all(r.exc_info and r.exc_info[0] is ValueError for r in ours)


def test_aget_result(sqs, settings):
    import asyncio

    use_backend(settings)
    result = tasks.calculate_meaning_of_life.enqueue()
    work()
    got = asyncio.run(tasks.calculate_meaning_of_life.aget_result(result.id))
    assert got.status == TaskResultStatus.SUCCESSFUL and got.return_value == 42


# -- retries ---------------------------------------------------------------------------------------
def test_failed_task_is_retried_until_it_succeeds_attempt_counts_deliveries(sqs, settings):
    use_backend(settings, MAX_ATTEMPTS=3, BACKOFF=0)
    result = tasks.attempt_and_id.enqueue(fail_until=2)
    work()
    assert [r["attempt"] for r in tasks.runs] == [1, 2, 3]
    result.refresh()
    assert result.status == TaskResultStatus.SUCCESSFUL and result.return_value == 3
    assert result.attempts == 3 and len(result.errors) == 2
    assert counts(sqs, DEFAULT) == {"visible": 0, "in_flight": 0, "delayed": 0}


def test_retry_waits_for_the_backoff_and_the_result_is_ready_again(sqs, settings):
    use_backend(settings, MAX_ATTEMPTS=3, BACKOFF=300)
    result = tasks.attempt_and_id.enqueue(fail_until=5)
    work()
    assert [r["attempt"] for r in tasks.runs] == [1]
    # The retry is a new message for attempt 2, delayed by the backoff; the original is deleted.
    assert counts(sqs, DEFAULT) == {"visible": 0, "in_flight": 0, "delayed": 1}
    result.refresh()
    assert result.status == TaskResultStatus.READY and not result.is_finished
    assert [e.exception_class for e in result.errors] == [ValueError]


def test_attempts_spent_without_dead_letter_queue_deletes_and_fails(sqs, settings):
    use_backend(settings, MAX_ATTEMPTS=2, BACKOFF=0)
    result = tasks.attempt_and_id.enqueue(fail_until=5)
    work()
    assert [r["attempt"] for r in tasks.runs] == [1, 2]
    result.refresh()
    assert result.status == TaskResultStatus.FAILED and result.attempts == 2
    assert counts(sqs, DEFAULT) == {"visible": 0, "in_flight": 0, "delayed": 0}


def test_attempts_spent_go_to_the_dead_letter_queue_and_redrive_brings_them_back(sqs, settings, capsys):
    use_backend(settings, MAX_ATTEMPTS=2, BACKOFF=0, DEAD_LETTER_QUEUE=True)
    call_command("sqs_create_queues", DEFAULT)
    result = tasks.attempt_and_id.enqueue(fail_until=2)
    work()
    assert [r["attempt"] for r in tasks.runs] == [1, 2]
    result.refresh()
    assert result.status == TaskResultStatus.FAILED
    assert counts(sqs, "tasks__default__default__dlq")["visible"] == 1
    assert counts(sqs, DEFAULT) == {"visible": 0, "in_flight": 0, "delayed": 0}
    call_command("sqs_redrive", DEFAULT)
    work()
    assert [r["attempt"] for r in tasks.runs] == [1, 2, 3]  # earlier attempts are kept in the store
    result.refresh()
    assert result.status == TaskResultStatus.SUCCESSFUL and result.return_value == 3


# -- run_after ------------------------------------------------------------------------------------------
def _send_due_now(task, run_after):
    """The message SQS hands out after 15 minutes of DelaySeconds, without the wait."""
    backend = task_backends["default"]
    result = new_result(backend, task.using(run_after=run_after), [], {})
    object.__setattr__(result, "enqueued_at", timezone.now())
    send_message(registry.get(DEFAULT), TaskMessage(envelope_of(result)))
    return result


def test_task_not_due_is_sent_on_with_the_remaining_delay_and_the_original_deleted(sqs, settings):
    use_backend(settings, store=False)
    _send_due_now(tasks.noop_task, timezone.now() + dt.timedelta(hours=5))
    work()
    assert tasks.runs == []
    assert counts(sqs, DEFAULT) == {"visible": 0, "in_flight": 0, "delayed": 1}


def test_task_due_in_less_than_15_minutes_is_delayed_by_what_is_left(sqs, settings, monkeypatch):
    use_backend(settings, store=False)
    from django_sqs.tasks import enqueueing

    sent = []
    real = enqueueing.send_message
    monkeypatch.setattr(enqueueing, "send_message", lambda rq, m, **kw: sent.append(kw) or real(rq, m, **kw))
    _send_due_now(tasks.noop_task, timezone.now() + dt.timedelta(seconds=100))
    work()
    (options,) = sent
    assert 95 <= options["delay_seconds"] <= 100


def test_task_whose_time_has_come_runs(sqs, settings):
    use_backend(settings)
    result = _send_due_now(tasks.calculate_meaning_of_life, timezone.now() - dt.timedelta(seconds=1))
    work()
    assert tasks.calculate_meaning_of_life.get_result(result.id).return_value == 42


def test_eager_mode_keeps_a_task_not_due_instead_of_looping(settings):
    from django_sqs import eager

    use_backend(settings, store=False)
    settings.SQS_EAGER = True
    tasks.noop_task.using(run_after=timezone.now() + dt.timedelta(hours=1)).enqueue()
    assert tasks.runs == [] and len(eager.kept) == 1


def test_eager_mode_runs_the_task_at_once(settings):
    use_backend(settings)
    settings.SQS_EAGER = True
    result = tasks.calculate_meaning_of_life.enqueue()
    assert task_backends["default"].get_result(result.id).return_value == 42


# -- bad messages, other backends -------------------------------------------------------------------------
@pytest.mark.parametrize(
    "body, reason",
    [
        ("not json", "body is not JSON"),
        (json.dumps([1]), "not an object"),
        (json.dumps({"v": 99}), "version 99 is not supported"),
        (json.dumps({"v": 1, "id": "x"}), "has no 'task'"),
        ("TASK:tests.tasks.nowhere", "cannot be imported"),
        ("TASK:tests.tasks.not_a_task", "is a function, not a Task"),
        ("TASK:tests.tasks.noop_task:50", "not valid here"),  # a priority this backend refuses
        ("TASK:.x", "'.x' is not a dotted path"),  # import_string would raise ValueError
    ],
)
def test_a_message_that_is_not_a_valid_task_is_a_bad_message(sqs, settings, caplog, body, reason):
    use_backend(settings, store=False)
    if body.startswith("TASK:"):
        path, _, rest = body[5:].partition(":")
        priority, _, result_id = rest.partition(":")
        body = json.dumps({
            "v": 1, "id": result_id or "abc", "task": path, "args": [], "kwargs": {}, "backend": "default",
            "queue": "default", "priority": int(priority or 0), "enqueued_at": timezone.now().isoformat(),
            "run_after": None,
        })
    url = provisioning.queue_url(registry.get(DEFAULT))
    sqs.send_message(QueueUrl=url, MessageBody=body)
    tasks.noop_task.enqueue("after")
    with caplog.at_level(logging.ERROR, logger="django_sqs"):
        work()
    (line,) = [m for m in caplog.messages if m.startswith("bad message")]
    assert "queue=t__tasks__default__default" in line and reason in line
    assert [r["args"] for r in tasks.runs] == [["after"]]  # the worker went on
    assert counts(sqs, DEFAULT) == {"visible": 0, "in_flight": 0, "delayed": 0}


def test_workers_serve_only_their_backends_queues(sqs, settings):
    settings.TASKS = {
        "default": {"BACKEND": "django_sqs.tasks.SQSBackend", "QUEUES": ["default"]},
        "other": {"BACKEND": "django_sqs.tasks.SQSBackend", "QUEUES": ["default"]},
    }
    tasks.noop_task.using(backend="other").enqueue("other")
    work()
    assert tasks.runs == []
    work("tasks__other__default")
    assert [r["args"] for r in tasks.runs] == [["other"]]


def test_an_envelope_of_another_backend_is_a_bad_message(sqs, settings, caplog):
    settings.TASKS = {
        "default": {"BACKEND": "django_sqs.tasks.SQSBackend", "QUEUES": ["default"]},
        "other": {"BACKEND": "django_sqs.tasks.SQSBackend", "QUEUES": ["default"]},
    }
    tasks.noop_task.using(backend="other").enqueue()
    (body,) = bodies(sqs, "tasks__other__default")
    sqs.send_message(QueueUrl=provisioning.queue_url(registry.get(DEFAULT)), MessageBody=json.dumps(body))
    with caplog.at_level(logging.ERROR, logger="django_sqs"):
        work()
    assert tasks.runs == []
    assert any("found in the queue of backend 'default'" in m for m in caplog.messages)


def test_a_worker_serves_only_the_task_queues_it_is_given(sqs, settings):
    use_backend(settings, store=False)
    tasks.send_email.enqueue("a@example.com")
    tasks.noop_task.enqueue("default")
    work()
    assert [r["task"] for r in tasks.runs] == ["noop"]
    work("tasks__default__em*")  # patterns select task queues like any queue
    assert [r["task"] for r in tasks.runs] == ["noop", "email"]


def test_message_limit_counts_tasks(sqs, settings):
    use_backend(settings, store=False)
    enqueue_many(tasks.noop_task, [((i,), {}) for i in range(5)])
    work(DEFAULT, "--message-limit", "3")
    assert len(tasks.runs) == 3
    assert counts(sqs, DEFAULT)["visible"] == 2


def test_priority_level_is_served_with_suffix(sqs, settings):
    use_backend(settings, store=False, PRIORITY_LEVELS=[("high", 10), (None, -100)])
    tasks.noop_task.using(priority=50).enqueue("urgent")
    tasks.noop_task.enqueue("normal")
    work(DEFAULT, "--suffix", "high")
    assert [r["args"] for r in tasks.runs] == [["urgent"]]


def test_a_naive_enqueued_at_is_read_as_utc_and_stored_aware(sqs, settings, recwarn):
    use_backend(settings)
    result = new_result(task_backends["default"], tasks.calculate_meaning_of_life, [], {})
    body = envelope_of(result).as_json()
    body["enqueued_at"] = "2026-12-02T07:45:51.123456"  # another producer's naive time
    sqs.send_message(QueueUrl=provisioning.queue_url(registry.get(DEFAULT)), MessageBody=json.dumps(body))
    work()
    stored = tasks.calculate_meaning_of_life.get_result(result.id)
    assert stored.status == TaskResultStatus.SUCCESSFUL
    assert stored.enqueued_at == dt.datetime(2026, 12, 2, 7, 45, 51, 123456, tzinfo=dt.timezone.utc)
    assert not [w for w in recwarn if "naive datetime" in str(w.message)]


def test_an_id_no_result_store_can_keep_is_a_bad_message_not_retried(sqs, settings, caplog):
    """On PostgreSQL the 64-character column refuses a longer id: without this check the
    start could never be recorded and the task came back every 10 s until retention ended."""
    use_backend(settings)
    result = new_result(task_backends["default"], tasks.calculate_meaning_of_life, [], {})
    object.__setattr__(result, "id", "i" * 65)
    sqs.send_message(QueueUrl=provisioning.queue_url(registry.get(DEFAULT)), MessageBody=json.dumps(envelope_of(result).as_json()))
    with caplog.at_level(logging.INFO, logger="django_sqs"):
        work()
    (line,) = [m for m in caplog.messages if m.startswith("bad message")]
    assert "65 characters long, more than 64" in line
    assert not any("result store unavailable" in m for m in caplog.messages)
    assert counts(sqs, DEFAULT) == {"visible": 0, "in_flight": 0, "delayed": 0}


def test_a_naive_run_after_is_read_as_utc(sqs, settings):
    use_backend(settings, store=False)
    result = new_result(task_backends["default"], tasks.noop_task, ["due"], {})
    body = envelope_of(result).as_json()
    body["run_after"] = (timezone.now() - dt.timedelta(seconds=5)).replace(tzinfo=None).isoformat()
    sqs.send_message(QueueUrl=provisioning.queue_url(registry.get(DEFAULT)), MessageBody=json.dumps(body))
    work()
    assert [r["args"] for r in tasks.runs] == [["due"]]
