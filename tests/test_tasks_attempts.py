"""Attempts counted where they happen (issue 16 §1): receives that did not run a task are not
attempts, a retry is a new message for the next attempt, the worker moves a spent task to the
dead-letter queue, and with a result store a copy of a task is not run twice."""

import json
import logging

import pytest
from django.core.management import call_command
from django.utils import timezone

from django_sqs import provisioning
from django_sqs.registry import registry
from django_sqs.tasks import attempts
from django_sqs.tasks.compat import TaskResult, TaskResultStatus, task_backends
from django_sqs.tasks.enqueueing import envelope_of
from django_sqs.tasks.options import RECEIVE_HEADROOM, TaskOptions
from django_sqs.tasks.results.models import TaskResultRecord
from django_sqs.tasks.running import STORE_RETRY_CAP, store_retry_delay
from tests import tasks
from tests.task_helpers import (  # noqa: F401 (fresh_runs: a fixture)
    DEFAULT,
    bodies,
    counts,
    fresh_runs,
    use_backend,
    work,
)

DLQ = "tasks__default__default__dlq"

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fresh_runs")]


def url():
    return provisioning.queue_url(registry.get(DEFAULT))


# -- the rule --------------------------------------------------------------------------------------
def _stored(status, started: int) -> TaskResult:
    return TaskResult(
        task=tasks.noop_task, id="r", status=status, enqueued_at=None, started_at=None, finished_at=None,
        last_attempted_at=None, args=[], kwargs={}, backend="default", errors=[], worker_ids=["w"] * started,
    )


S = TaskResultStatus


@pytest.mark.parametrize(
    "envelope_attempt, status, started, stored_message, expected",
    [
        (1, None, 0, "", (attempts.RUN, 1)),  # no store, or enqueued without one
        (1, S.READY, 0, "", (attempts.RUN, 1)),  # enqueued, never started
        (2, S.READY, 1, "m0", (attempts.RUN, 2)),  # a retry
        (1, S.RUNNING, 1, "m", (attempts.RUN, 2)),  # this message's attempt 1 was cut off by a kill
        (1, S.RUNNING, 1, "other", (attempts.SKIP, 1)),  # another copy runs it now
        (1, S.SUCCESSFUL, 1, "other", (attempts.SKIP, 1)),  # already done
        (1, S.READY, 1, "other", (attempts.SKIP, 1)),  # the original of a sent retry, not deleted
        (1, S.READY, 1, "m", (attempts.RUN, 2)),  # this message failed and came back (kept, or no retry sent)
        (3, S.FAILED, 2, "m2", (attempts.RUN, 3)),  # redriven from the dead-letter queue
        (2, S.FAILED, 2, "other", (attempts.SKIP, 2)),  # a stale copy of a spent task
        (2, S.FAILED, 2, "m", (attempts.GIVE_UP, 2)),  # spent, its move to the dead-letter queue not done
    ],
)
def test_decide(envelope_attempt, status, started, stored_message, expected):
    stored = None if status is None else _stored(status, started)
    verdict = attempts.decide(
        envelope_attempt=envelope_attempt, message_id="m", stored=stored, stored_message_id=stored_message,
        max_attempts=3,
    )
    assert (verdict.action, verdict.attempt) == expected


def test_a_cut_off_last_attempt_is_given_up():
    verdict = attempts.decide(
        envelope_attempt=1, message_id="m", stored=_stored(S.RUNNING, 3), stored_message_id="m", max_attempts=3,
    )
    assert (verdict.action, verdict.attempt, verdict.lost) == (attempts.GIVE_UP, 3, True)


@pytest.mark.parametrize(
    "redriven_from, orphaned, started, expected",
    [
        ("old", False, 2, (attempts.RUN, 3, True)),  # redriven from the crash-looped message itself
        ("old", False, 3, (attempts.RUN, 4, True)),  # one more, even past max_attempts
        ("other", False, 2, (attempts.SKIP, 2, False)),  # another copy of a redrive that runs
        ("", False, 2, (attempts.SKIP, 2, False)),  # a plain copy: may be a live run's twin
        ("", True, 2, (attempts.RUN, 3, True)),  # past the 12-hour cap no run holds "old"
        ("", True, 3, (attempts.GIVE_UP, 3, True)),
    ],
)
def test_a_task_left_running_by_another_message(redriven_from, orphaned, started, expected):
    verdict = attempts.decide(
        envelope_attempt=1, message_id="m", stored=_stored(S.RUNNING, started), stored_message_id="old",
        max_attempts=3, redriven_from=redriven_from, orphaned=orphaned,
    )
    assert (verdict.action, verdict.attempt, verdict.lost) == expected


def test_the_redrive_policy_is_a_safety_net_with_room_for_receives_that_did_not_run_the_task():
    assert TaskOptions.read({"MAX_ATTEMPTS": 3}).max_receive_count == 3 + RECEIVE_HEADROOM == 503
    # MAX_ATTEMPTS stops where the safety net would pass SQS's 1000.
    assert TaskOptions.read({"MAX_ATTEMPTS": 500}).max_receive_count == 1000
    assert TaskOptions.read({"MAX_ATTEMPTS": 501}).problems


def test_the_backoff_doubles_from_backoff_to_at_most_12_hours():
    opts = TaskOptions.read({"BACKOFF": 10})
    assert [opts.backoff_for(attempt) for attempt in (1, 2, 3)] == [10, 20, 40]
    assert TaskOptions.read({"BACKOFF": 40000}).backoff_for(2) == 43200


def test_a_result_store_outage_keeps_the_task_for_longer_and_longer():
    assert [store_retry_delay(n) for n in (1, 2, 3, 4)] == [10, 20, 40, 80]
    assert store_retry_delay(50) == STORE_RETRY_CAP == 3600


# -- receives are not attempts --------------------------------------------------------------------
@pytest.mark.parametrize("store", [True, False], ids=["result store", "no store"])
def test_receives_that_did_not_run_the_task_are_not_attempts(sqs, settings, store):
    use_backend(settings, store=store, MAX_ATTEMPTS=1, DEAD_LETTER_QUEUE=True)
    call_command("sqs_create_queues", DEFAULT)
    result = tasks.attempt_and_id.enqueue()
    for _ in range(3):  # given back three times (a stop's look-ahead, an abandoned poll, ...)
        (record,) = sqs.receive_message(QueueUrl=url(), VisibilityTimeout=0)["Messages"]
    work()
    assert [r["attempt"] for r in tasks.runs] == [1]
    assert counts(sqs, DLQ)["visible"] == 0
    if store:
        result.refresh()
        assert result.status == TaskResultStatus.SUCCESSFUL and result.attempts == 1


# -- retries and giving up ------------------------------------------------------------------------
def test_a_retry_is_a_new_message_for_the_next_attempt_delayed_by_the_backoff(sqs, settings, monkeypatch):
    use_backend(settings, MAX_ATTEMPTS=3, BACKOFF=30)
    from django_sqs.tasks import enqueueing

    sent = []
    real = enqueueing.send_message
    monkeypatch.setattr(enqueueing, "send_message", lambda rq, m, **kw: sent.append((m.get_body(), kw)) or real(rq, m, **kw))
    result = tasks.attempt_and_id.enqueue(fail_until=1)
    sent.clear()
    work()
    ((envelope, options),) = sent
    assert envelope["id"] == result.id and envelope["attempt"] == 2 and options["delay_seconds"] == 30
    assert counts(sqs, DEFAULT) == {"visible": 0, "in_flight": 0, "delayed": 1}  # the original is deleted


def test_retries_and_giving_up_are_logged_once_each_and_read_as_what_they_are(sqs, settings, caplog):
    use_backend(settings, MAX_ATTEMPTS=3, BACKOFF=0, DEAD_LETTER_QUEUE=True)
    call_command("sqs_create_queues", DEFAULT)
    result = tasks.attempt_and_id.enqueue(fail_until=5)
    with caplog.at_level(logging.INFO, logger="django_sqs"):
        work()
    ours = [r for r in caplog.records if r.name == "django_sqs.tasks"]
    where = f"queue=t__tasks__default__default id={result.id}"
    assert [(r.levelno, r.getMessage().split(" queue=")[0]) for r in ours] == [
        (logging.WARNING, "task attempt 1/3 failed, retrying in 0 s"),
        (logging.WARNING, "task attempt 2/3 failed, retrying in 0 s"),
        (logging.ERROR, "task failed, giving up after 3 attempts → t__tasks__default__default__dlq"),
    ]
    for r in ours:
        message = r.getMessage()
        assert where in message and "task=tests.tasks.attempt_and_id" in message
        assert "error=ValueError: attempt" in message and r.exc_info[0] is ValueError
    assert not [m for m in caplog.messages if m.startswith("restart later")]
    assert not [r for r in caplog.records if r.name == "django_sqs.worker" and r.levelno >= logging.ERROR]


def test_the_worker_moves_a_spent_task_to_the_dead_letter_queue_for_one_more_attempt(sqs, settings):
    use_backend(settings, MAX_ATTEMPTS=2, BACKOFF=0, DEAD_LETTER_QUEUE=True)
    call_command("sqs_create_queues", DEFAULT)
    result = tasks.attempt_and_id.enqueue(fail_until=5)
    work()
    assert [r["attempt"] for r in tasks.runs] == [1, 2]
    (body,) = bodies(sqs, DLQ)
    assert body["id"] == result.id and body["attempt"] == 3
    assert counts(sqs, DEFAULT) == {"visible": 0, "in_flight": 0, "delayed": 0}


# -- copies of a task (a crash between a re-send and the original's delete) -------------------------
def _send_copy(result_id: str, task=tasks.attempt_and_id, attempt: int = 1):
    backend = task_backends["default"]
    from django_sqs.tasks.enqueueing import new_result

    copy = new_result(backend, task, [], {})
    object.__setattr__(copy, "id", result_id)
    object.__setattr__(copy, "enqueued_at", timezone.now())
    body = envelope_of(copy).as_json()
    body["attempt"] = attempt
    return provisioning_send(json.dumps(body))


def provisioning_send(body: str) -> str:
    from django_sqs.client import get_client

    return get_client().send_message(QueueUrl=url(), MessageBody=body)["MessageId"]


def test_two_copies_of_a_task_run_once(sqs, settings, caplog):
    use_backend(settings)
    result = tasks.attempt_and_id.enqueue()
    _send_copy(result.id)  # what a deferral leaves when its worker dies before the delete
    with caplog.at_level(logging.INFO, logger="django_sqs"):
        work()
    assert len(tasks.runs) == 1
    assert [m for m in caplog.messages if m.startswith("task not run: it already succeeded")]
    assert counts(sqs, DEFAULT) == {"visible": 0, "in_flight": 0, "delayed": 0}


def test_a_copy_of_a_task_another_worker_runs_is_not_started(sqs, settings):
    use_backend(settings)
    result = tasks.attempt_and_id.enqueue()
    (record,) = sqs.receive_message(QueueUrl=url(), VisibilityTimeout=300)["Messages"]  # the live attempt's message
    TaskResultRecord.objects.filter(id=result.id).update(
        status=TaskResultStatus.RUNNING, worker_ids=["elsewhere"], started_at=timezone.now(), message_id=record["MessageId"],
    )
    _send_copy(result.id)
    work()
    assert tasks.runs == []
    result.refresh()
    assert result.status == TaskResultStatus.RUNNING and result.worker_ids == ["elsewhere"]
    assert counts(sqs, DEFAULT) == {"visible": 0, "in_flight": 1, "delayed": 0}  # only the live one's message


def test_a_copy_of_a_finished_task_is_not_run_again(sqs, settings):
    use_backend(settings)
    result = tasks.attempt_and_id.enqueue()
    work()
    assert len(tasks.runs) == 1
    _send_copy(result.id)
    work()
    assert len(tasks.runs) == 1
    result.refresh()
    assert result.status == TaskResultStatus.SUCCESSFUL and result.attempts == 1


# -- FIFO: a failed message is kept for its retry (no per-message delay, and the group's order) --------
FIFO = "tasks__default__orders.fifo"


def test_a_fifo_task_is_retried_in_its_group_s_order_and_then_moved_to_the_dead_letter_queue(sqs, settings, caplog):
    use_backend(settings, MAX_ATTEMPTS=2, BACKOFF=0, DEAD_LETTER_QUEUE=True)
    call_command("sqs_create_queues", FIFO)
    first = tasks.fifo_attempt.enqueue(1, fail_until=5)
    tasks.fifo_attempt.enqueue(2)
    with caplog.at_level(logging.INFO, logger="django_sqs"):
        call_command("runreceiver", FIFO, "--burst")
    assert [(r["n"], r["attempt"]) for r in tasks.runs] == [(1, 1), (1, 2), (2, 1)]
    first.refresh()
    assert first.status == TaskResultStatus.FAILED and first.attempts == 2
    (body,) = bodies(sqs, "tasks__default__orders__dlq.fifo")
    assert body["id"] == first.id and body["attempt"] == 3
    assert any("giving up after 2 attempts → t__tasks__default__orders__dlq.fifo" in m for m in caplog.messages)


def test_a_task_is_not_run_unrecorded_while_the_result_store_is_unavailable(sqs, settings, monkeypatch, caplog):
    use_backend(settings)
    from django_sqs.tasks.results.store import DatabaseResultStore

    tasks.attempt_and_id.enqueue()

    def down(self, result_id):
        raise RuntimeError("database is down")

    monkeypatch.setattr(DatabaseResultStore, "load_attempt", down)
    with caplog.at_level(logging.INFO, logger="django_sqs"):
        work()
    assert tasks.runs == []
    # Kept 10 s, then (the burst waits for what it kept that briefly) 20 s: never run unrecorded.
    lines = [m for m in caplog.messages if m.startswith("result store unavailable")]
    assert lines and "trying again in 10s" in lines[0]
    assert counts(sqs, DEFAULT) == {"visible": 0, "in_flight": 1, "delayed": 0}  # kept, hidden for 10 s


def test_a_backoff_beyond_15_minutes_is_a_delay_and_a_run_after(sqs, settings, monkeypatch):
    import datetime as dt

    use_backend(settings, MAX_ATTEMPTS=2, BACKOFF=3600)
    from django_sqs.tasks import enqueueing

    sent = []
    real = enqueueing.send_message
    monkeypatch.setattr(enqueueing, "send_message", lambda rq, m, **kw: sent.append((m.get_body(), kw)) or real(rq, m, **kw))
    tasks.attempt_and_id.enqueue(fail_until=1)
    sent.clear()
    before = timezone.now()
    work()
    ((envelope, options),) = sent
    assert envelope["attempt"] == 2 and options["delay_seconds"] == 900  # SQS's longest DelaySeconds
    run_after = dt.datetime.fromisoformat(envelope["run_after"])
    assert before + dt.timedelta(seconds=3600) <= run_after <= timezone.now() + dt.timedelta(seconds=3600)


def test_the_start_is_claimed_only_if_the_stored_result_is_as_it_was_read(settings):
    use_backend(settings)
    backend = task_backends["default"]
    from django_sqs.tasks.enqueueing import new_result

    ready = new_result(backend, tasks.noop_task, [], {})
    backend.result_store.create([ready])
    seen, seen_message = backend.result_store.load_attempt(ready.id)
    running = dataclasses_replace_status(seen, TaskResultStatus.RUNNING)
    assert backend.result_store.claim(running, "copy-1", seen, seen_message) is True
    # The second copy read the same READY row: its claim finds the row changed.
    assert backend.result_store.claim(running, "copy-2", seen, seen_message) is False
    assert TaskResultRecord.objects.get(id=ready.id).message_id == "copy-1"


def dataclasses_replace_status(result, status):
    import dataclasses

    return dataclasses.replace(result, status=status, started_at=timezone.now(), worker_ids=["w"])


def test_a_retry_that_cannot_be_sent_keeps_the_message_for_the_backoff(sqs, settings, monkeypatch, caplog):
    from django_sqs.exceptions import SQSError
    from django_sqs.tasks.backend import SQSBackend

    use_backend(settings, MAX_ATTEMPTS=3, BACKOFF=300)
    result = tasks.attempt_and_id.enqueue(fail_until=5)

    def unreachable(self, task, envelope, *, delay_seconds):
        raise SQSError("SQS is unreachable")

    monkeypatch.setattr(SQSBackend, "send_on", unreachable)
    with caplog.at_level(logging.INFO, logger="django_sqs"):
        work()
    assert any(m.startswith("cannot send the retry") for m in caplog.messages)
    assert counts(sqs, DEFAULT) == {"visible": 0, "in_flight": 1, "delayed": 0}  # kept, hidden for the backoff
    result.refresh()
    assert result.status == TaskResultStatus.READY and result.attempts == 1


def test_a_spent_task_the_dead_letter_queue_refused_is_moved_when_it_comes_back_without_running(sqs, settings, monkeypatch):
    from django_sqs.exceptions import SQSError
    from django_sqs.tasks import retries

    use_backend(settings, MAX_ATTEMPTS=1, BACKOFF=0, DEAD_LETTER_QUEUE=True)
    call_command("sqs_create_queues", DEFAULT)
    result = tasks.attempt_and_id.enqueue(fail_until=5)
    real = retries.move_to_dead_letter_queue
    calls = []

    def once_unreachable(message, body=None):
        calls.append(message.id)
        if len(calls) == 1:
            raise SQSError("SQS is unreachable")
        return real(message, body=body)

    monkeypatch.setattr(retries, "move_to_dead_letter_queue", once_unreachable)
    # The burst waits for what it kept for a second: the move fails, the task is kept for 1 s,
    # comes back in the same run and is moved then, without running again.
    work()
    assert len(calls) == 2 and calls[0] == calls[1]
    assert [r["attempt"] for r in tasks.runs] == [1]  # not run again
    assert counts(sqs, DLQ)["visible"] == 1
    assert counts(sqs, DEFAULT) == {"visible": 0, "in_flight": 0, "delayed": 0}
    result.refresh()
    assert result.status == TaskResultStatus.FAILED and result.attempts == 1


def test_a_fifo_task_without_a_result_store_numbers_its_attempts_by_receives(sqs, settings):
    use_backend(settings, store=False, MAX_ATTEMPTS=2, BACKOFF=0)
    tasks.fifo_attempt.enqueue(1, fail_until=5)
    call_command("runreceiver", FIFO, "--burst")
    assert [(r["n"], r["attempt"]) for r in tasks.runs] == [(1, 1), (1, 2)]
    assert counts(sqs, FIFO) == {"visible": 0, "in_flight": 0, "delayed": 0}  # spent, deleted
