"""An adversarial review of attempt counting, retries and the dead-letter move (issue 16 §1, §5;
issue 17 item 5): each test reproduces a defect found, and fails without its fix."""

import json
import logging

import pytest
from django.core.management import call_command
from django.utils import timezone

from django_sqs import provisioning
from django_sqs.client import get_client
from django_sqs.registry import registry
from django_sqs.tasks.compat import TaskResultStatus
from django_sqs.tasks.results.models import TaskResultRecord
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


def url(name=DEFAULT):
    return provisioning.queue_url(registry.get(name))


def _as_left_by_the_previous_version(result, status):
    """What the previous version left: it kept a failed task's message for its retry (the
    envelope had no "attempt") and recorded no message id; its attempt 1 failed."""
    sqs = get_client()
    (record,) = sqs.receive_message(QueueUrl=url(), MaxNumberOfMessages=1)["Messages"]
    body = json.loads(record["Body"])
    assert body.pop("attempt") == 1
    sqs.delete_message(QueueUrl=url(), ReceiptHandle=record["ReceiptHandle"])
    sqs.send_message(QueueUrl=url(), MessageBody=json.dumps(body))
    now = timezone.now()
    TaskResultRecord.objects.filter(id=result.id).update(
        status=status, worker_ids=["old-worker"], started_at=now, last_attempted_at=now, message_id="",
        errors=[{"exception_class_path": "builtins.ValueError", "traceback": "attempt 1 fails"}],
        finished_at=now if status == TaskResultStatus.FAILED else None,
    )


def test_a_retry_left_by_the_previous_version_runs_as_the_next_attempt(sqs, settings):
    """Upgrade in the middle of a retry: the kept message comes back to the new worker. It
    was deleted unrun ("attempt 1 already ran"), its result READY for ever."""
    use_backend(settings, MAX_ATTEMPTS=3)
    result = tasks.attempt_and_id.enqueue(fail_until=1)
    _as_left_by_the_previous_version(result, TaskResultStatus.READY)
    work()
    assert [r["attempt"] for r in tasks.runs] == [2]
    result.refresh()
    assert result.status == TaskResultStatus.SUCCESSFUL and result.attempts == 2


def test_a_spent_task_left_by_the_previous_version_goes_to_the_dead_letter_queue(sqs, settings):
    """The previous version left a spent task in its queue for SQS to move on the next receive
    (maxReceiveCount = MAX_ATTEMPTS); the upgrade raised that count. It was deleted instead."""
    use_backend(settings, MAX_ATTEMPTS=1, DEAD_LETTER_QUEUE=True)
    call_command("sqs_create_queues", DEFAULT)
    result = tasks.attempt_and_id.enqueue(fail_until=5)
    _as_left_by_the_previous_version(result, TaskResultStatus.FAILED)
    work()
    assert tasks.runs == []
    (body,) = bodies(sqs, DLQ)
    assert body["id"] == result.id and body["attempt"] == 2
    result.refresh()
    assert result.status == TaskResultStatus.FAILED and result.attempts == 1


def test_one_message_received_twice_at_once_runs_once(sqs, settings, monkeypatch):
    """SQS delivers a standard queue's message twice at times. Both receives read the stored
    result READY; the other one claims first. This one lost its claim and read again: RUNNING,
    from this very message id, which it took for a worker killed mid-task. It ran the task a
    second time, alongside, and recorded a bogus AttemptLost."""
    from django_sqs.exceptions import RestartLater
    from django_sqs.tasks.compat import task_backends
    from django_sqs.tasks.envelope import TaskMessage
    from django_sqs.tasks.results.store import DatabaseResultStore
    from django_sqs.tasks.running import TaskRun, load_task

    use_backend(settings, MAX_ATTEMPTS=3)
    result = tasks.attempt_and_id.enqueue()
    rq = registry.get(DEFAULT)
    received = [
        TaskMessage.from_sqs(
            sqs.receive_message(QueueUrl=url(), VisibilityTimeout=0, MessageSystemAttributeNames=["All"])["Messages"][0],
            rq.full_name(),
        )
        for _ in range(2)
    ]
    mine, theirs = received
    assert mine.id == theirs.id
    backend = task_backends["default"]
    envelope = theirs.get_body()
    other = TaskRun(backend, load_task(envelope, backend), envelope, theirs)
    real_claim = DatabaseResultStore.claim
    claims = []

    def other_claims_first(self, *args):
        claims.append(args[1])
        if len(claims) == 1:  # between this receive's read and its claim
            assert other.begin()
        return real_claim(self, *args)

    monkeypatch.setattr(DatabaseResultStore, "claim", other_claims_first)
    with pytest.raises(RestartLater):  # kept, not deleted: the other run may yet be cut off
        rq.receiver(mine)
    assert tasks.runs == []
    other.run_sync()
    assert [r["attempt"] for r in tasks.runs] == [1]
    result.refresh()
    assert result.status == TaskResultStatus.SUCCESSFUL and result.attempts == 1 and result.errors == []


@pytest.mark.parametrize("same_message", [True, False], ids=["one message twice", "two copies"])
def test_two_receives_claiming_at_the_same_moment_start_the_task_once(sqs, settings, monkeypatch, same_message):
    """The conditional UPDATE under real concurrency (two threads, two database connections;
    run with DJANGO_SQS_TEST_DB=postgresql for PostgreSQL): both read the result READY, both
    claim, one starts."""
    import threading

    from django.db import connection

    from django_sqs.exceptions import RestartLater
    from django_sqs.tasks.compat import task_backends
    from django_sqs.tasks.envelope import TaskMessage
    from django_sqs.tasks.results.store import DatabaseResultStore
    from django_sqs.tasks.running import TaskRun, load_task

    use_backend(settings, MAX_ATTEMPTS=3)
    result = tasks.attempt_and_id.enqueue()
    if not same_message:  # what a crash between a re-send and the original's delete leaves
        body = get_client().receive_message(QueueUrl=url(), VisibilityTimeout=0)["Messages"][0]["Body"]
        get_client().send_message(QueueUrl=url(), MessageBody=body)
    rq = registry.get(DEFAULT)
    received = []
    while len(received) < 2:
        for record in sqs.receive_message(
            QueueUrl=url(), MaxNumberOfMessages=2, VisibilityTimeout=0 if same_message else 300,
        ).get("Messages", []):
            received.append(TaskMessage.from_sqs(record, rq.full_name()))
    received = received[:2]
    assert (received[0].id == received[1].id) is same_message
    backend = task_backends["default"]
    barrier = threading.Barrier(2, timeout=10)
    real_load = DatabaseResultStore.load_attempt
    reads = []

    def read_then_meet(self, result_id):
        seen = real_load(self, result_id)
        reads.append(seen)
        if len(reads) <= 2:  # both have read before either claims
            barrier.wait()
        return seen

    monkeypatch.setattr(DatabaseResultStore, "load_attempt", read_then_meet)
    outcomes = {}

    def begin(index):
        envelope = received[index].get_body()
        run = TaskRun(backend, load_task(envelope, backend), envelope, received[index])
        try:
            outcomes[index] = run.begin()
        except RestartLater:
            outcomes[index] = "kept"
        finally:
            connection.close()

    threads = [threading.Thread(target=begin, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(map(str, outcomes.values())) == sorted(["True", "kept" if same_message else "False"])
    result.refresh()
    assert result.status == TaskResultStatus.RUNNING and result.attempts == 1 and result.errors == []


@pytest.mark.parametrize("max_attempts", [1, 3])
def test_a_task_that_succeeded_while_the_result_store_went_down_is_not_run_again(sqs, settings, monkeypatch, caplog, max_attempts):
    """The store fails the write of a success. The message was kept and came back to find its
    result RUNNING from itself, which reads as a worker cut off: with attempts left the task ran
    a second time; on its last attempt the success was recorded FAILED (AttemptLost) and the
    task sent to the dead-letter queue."""
    import time

    from django_sqs.tasks.results.store import DatabaseResultStore

    options = {"MAX_ATTEMPTS": max_attempts, "DEAD_LETTER_QUEUE": True, "VISIBILITY_TIMEOUT": 1}
    use_backend(settings, **options)
    call_command("sqs_create_queues", DEFAULT)
    tasks.attempt_and_id.enqueue()
    real_save = DatabaseResultStore.save

    def down_for_the_success(self, result, *args, **kwargs):
        if result.status == TaskResultStatus.SUCCESSFUL:
            raise RuntimeError("database is down")
        return real_save(self, result, *args, **kwargs)

    monkeypatch.setattr(DatabaseResultStore, "save", down_for_the_success)
    with caplog.at_level(logging.INFO, logger="django_sqs"):
        work()
    monkeypatch.setattr(DatabaseResultStore, "save", real_save)  # the store is back
    time.sleep(1.5)  # past the visibility timeout, had the message been kept
    work()
    assert [r["attempt"] for r in tasks.runs] == [1]
    assert counts(sqs, DLQ)["visible"] == 0
    assert counts(sqs, DEFAULT) == {"visible": 0, "in_flight": 0, "delayed": 0}
    assert any(m.startswith("task succeeded but its result could not be recorded") for m in caplog.messages)


# -- a SIGKILL between two steps, in real worker processes against the local SQS server ----------------
def _env(**options):
    from django.db import connection

    from tests.task_helpers import options_env

    return {"DJANGO_SQS_TEST_DB_NAME": connection.settings_dict["NAME"], **options_env(**options)}


def _killed_after(step, server, tmp_path, options):
    from tests.processes import ReceiverProcess

    env = {**_env(**options), "DJANGO_SQS_TEST_KILL_AFTER": step}
    with ReceiverProcess(tmp_path, server.url, DEFAULT, env=env) as doomed:
        assert doomed.wait(30) == -9, doomed.log()
        assert doomed.records(phase="killed after"), doomed.log()
        return doomed.records(task="attempt")


def _rescue(server, tmp_path, options, wait_seconds):
    import time

    from tests.processes import ReceiverProcess

    time.sleep(wait_seconds)  # the killed worker's message back, the retry's delay over
    with ReceiverProcess(tmp_path, server.url, DEFAULT, "--burst", env=_env(**options)) as rescuer:
        assert rescuer.wait(60) == 0, rescuer.log()
        return rescuer.records(task="attempt"), rescuer.log()


@pytest.mark.parametrize("backoff", [1, 5], ids=["retry first", "original first"])
def test_killed_after_sending_a_retry_before_deleting_the_original_the_task_runs_each_attempt_once(
    server, tmp_path, settings, backoff,
):
    """Two live messages for attempt 2 (the retry, and the original come back): with a
    result store attempt 2 runs once, whichever comes first."""
    options = {"MAX_ATTEMPTS": 3, "BACKOFF": backoff, "VISIBILITY_TIMEOUT": 2}
    use_backend(settings, **options)
    result = tasks.attempt_and_id.enqueue(fail_until=1)
    first = _killed_after("django_sqs.tasks.backend:SQSBackend.send_on", server, tmp_path, options)
    assert [r["attempt"] for r in first] == [1]
    later, log = _rescue(server, tmp_path, options, wait_seconds=6)
    assert [r["attempt"] for r in later] == [2], log
    result.refresh()
    assert result.status == TaskResultStatus.SUCCESSFUL and result.attempts == 2
    assert counts(get_client(), DEFAULT) == {"visible": 0, "in_flight": 0, "delayed": 0}


@pytest.mark.parametrize("store", [True, False], ids=["result store", "no store"])
def test_killed_after_the_dead_letter_move_before_the_delete_the_task_is_in_the_dead_letter_queue_once(
    server, tmp_path, settings, store,
):
    """The original comes back and finds its attempts spent: it was moved a second time, two
    copies of one task in the dead-letter queue. Without a store (as documented) the original
    runs its last attempt again, and is moved again."""
    options = {"MAX_ATTEMPTS": 1, "DEAD_LETTER_QUEUE": True, "VISIBILITY_TIMEOUT": 2}
    if not store:
        options["RESULT_STORE"] = None
    use_backend(settings, store=store, **options)
    call_command("sqs_create_queues", DEFAULT)
    result = tasks.attempt_and_id.enqueue(fail_until=5)
    first = _killed_after("django_sqs.tasks.retries:give_up", server, tmp_path, options)
    assert [r["attempt"] for r in first] == [1]
    later, log = _rescue(server, tmp_path, options, wait_seconds=3)
    client = get_client()
    assert counts(client, DEFAULT) == {"visible": 0, "in_flight": 0, "delayed": 0}, log
    if not store:
        assert [r["attempt"] for r in later] == [1], log
        assert counts(client, DLQ)["visible"] == 2, log
        return
    assert later == [], log
    assert counts(client, DLQ)["visible"] == 1, log
    result.refresh()
    assert result.status == TaskResultStatus.FAILED and result.attempts == 1


@pytest.mark.parametrize("task", ["failing_task_async", "failing_task_value_error", "fifo_attempt"])
def test_the_worker_logs_each_failed_attempt_once_under_django_sqs(server, tmp_path, settings, task):
    """Issue 17 item 5, in the worker's own output (LOGGING routes django_sqs only; DEBUG is
    False), for an async task as for a plain one, and on a FIFO queue (a retry kept in place)."""
    import signal

    from tests.processes import ReceiverProcess

    options = {"MAX_ATTEMPTS": 3, "BACKOFF": 1, "DEAD_LETTER_QUEUE": True}
    use_backend(settings, **options)
    queue = FIFO if task == "fifo_attempt" else DEFAULT
    call_command("sqs_create_queues", queue)
    if task == "fifo_attempt":
        result = tasks.fifo_attempt.enqueue(1, fail_until=5)
    else:
        result = getattr(tasks, task).enqueue()
    with ReceiverProcess(tmp_path, server.url, queue, env=_env(**options)) as worker:
        worker.wait_for(lambda: "giving up" in worker.log(), message="the last attempt", timeout=60)
        worker.signal(signal.SIGTERM)
        assert worker.wait(15) == 0
        lines = worker.log().splitlines()
    ours = [line.split(" queue=")[0] for line in lines if line.startswith(("task ", "restart later", "receiver failed"))]
    assert ours == [
        "task attempt 1/3 failed, retrying in 1 s",
        "task attempt 2/3 failed, retrying in 2 s",
        "task failed, giving up after 3 attempts → "
        + ("t__tasks__default__orders__dlq.fifo" if queue == FIFO else "t__tasks__default__default__dlq"),
    ]
    # One traceback each; and one for the final failure from the framework's own logger when
    # it reaches the output (the django_tasks backport has no handler: Python's last resort).
    framework = [line for line in lines if line.startswith("Task id=")]
    assert [line.rsplit(" ", 1)[1] for line in framework] in ([], ["state=FAILED"])
    assert sum("Traceback (most recent call last)" in line for line in lines) == 3 + len(framework)
    result.refresh()
    assert result.status == TaskResultStatus.FAILED and result.attempts == 3
    dlq = "tasks__default__orders__dlq.fifo" if queue == FIFO else DLQ
    assert counts(get_client(), dlq)["visible"] == 1


def test_a_fifo_task_behind_failing_tasks_of_its_group_is_not_moved_to_the_dead_letter_queue_unrun(sqs, settings):
    """A FIFO retry keeps its message in place, and the worker gives back the later messages of
    the group it received with it: one receive for each of them per failed attempt ahead. With
    nine failing tasks ahead (a receive holds ten), that is 9 × (MAX_ATTEMPTS − 1) receives
    that did not run the tenth task, beyond the headroom of 500 from MAX_ATTEMPTS = 64 on."""
    from django_sqs.tasks.options import RECEIVE_HEADROOM

    max_attempts = 70
    assert 9 * (max_attempts - 1) > RECEIVE_HEADROOM
    use_backend(settings, MAX_ATTEMPTS=max_attempts, BACKOFF=0, DEAD_LETTER_QUEUE=True)
    call_command("sqs_create_queues", FIFO)
    for n in range(9):
        tasks.fifo_attempt.enqueue(n, fail_until=max_attempts)
    last = tasks.fifo_attempt.enqueue(9)
    for _ in range(30):  # --burst may stop while a group waits (issue 16 §4, the worker's)
        call_command("runreceiver", FIFO, "--burst")
        if not any(counts(sqs, FIFO).values()):
            break
    assert [r["n"] for r in tasks.runs if r["n"] == 9] == [9]
    last.refresh()
    assert last.status == TaskResultStatus.SUCCESSFUL
    assert len(bodies(sqs, "tasks__default__orders__dlq.fifo")) == 9


FIFO = "tasks__default__orders.fifo"


def test_w032_a_fifo_task_queue_with_more_attempts_than_its_redrive_policy_has_room_for(settings):
    from django_sqs.tasks.compat import task_backends

    use_backend(settings, MAX_ATTEMPTS=51, DEAD_LETTER_QUEUE=True)
    (warning,) = [e for e in task_backends["default"].check() if e.id == "django_sqs.W032"]
    assert "'orders.fifo'" in warning.msg and "450 receives" in warning.msg
    assert "MAX_ATTEMPTS=50 or fewer" in warning.hint
    use_backend(settings, MAX_ATTEMPTS=50, DEAD_LETTER_QUEUE=True)
    assert not [e for e in task_backends["default"].check() if e.id == "django_sqs.W032"]
    use_backend(settings, queues=["default"], MAX_ATTEMPTS=500, DEAD_LETTER_QUEUE=True)
    assert not [e for e in task_backends["default"].check() if e.id == "django_sqs.W032"]


def test_a_fifo_task_queue_s_redrive_policy_is_sqs_s_most(settings):
    from django_sqs.tasks import queues
    from django_sqs.tasks.compat import task_backends

    use_backend(settings, MAX_ATTEMPTS=3, DEAD_LETTER_QUEUE=True)
    backend = task_backends["default"]
    assert queues.registered_queue(backend, "orders.fifo").max_receive_count == 1000
    assert queues.registered_queue(backend, "default").max_receive_count == 503


@pytest.mark.parametrize("store", [True, False], ids=["result store", "no store"])
def test_a_redriven_task_gets_exactly_one_more_attempt(sqs, settings, caplog, store):
    use_backend(settings, store=store, MAX_ATTEMPTS=2, BACKOFF=0, DEAD_LETTER_QUEUE=True)
    call_command("sqs_create_queues", DEFAULT)
    result = tasks.attempt_and_id.enqueue(fail_until=5)
    work()
    call_command("sqs_redrive", DEFAULT)
    with caplog.at_level(logging.INFO, logger="django_sqs"):
        work()
    assert [r["attempt"] for r in tasks.runs] == [1, 2, 3]
    assert any("giving up after 3 attempts → t__tasks__default__default__dlq" in m for m in caplog.messages)
    (body,) = bodies(sqs, DLQ)
    assert body["attempt"] == 4
    if store:
        result.refresh()
        assert result.status == TaskResultStatus.FAILED and result.attempts == 3


def test_a_retry_sent_whose_answer_was_lost_runs_its_attempt_once(sqs, settings, monkeypatch):
    """SQS took the retry but the answer never came (a timeout): the original is kept as
    well, and both come back for attempt 2."""
    import time

    from django_sqs.exceptions import SQSError
    from django_sqs.tasks.backend import SQSBackend

    use_backend(settings, MAX_ATTEMPTS=3, BACKOFF=1)
    result = tasks.attempt_and_id.enqueue(fail_until=1)
    real = SQSBackend.send_on

    def answer_lost(self, task, envelope, *, delay_seconds):
        real(self, task, envelope, delay_seconds=delay_seconds)
        raise SQSError("Read timeout on endpoint URL")

    monkeypatch.setattr(SQSBackend, "send_on", answer_lost)
    work()
    monkeypatch.setattr(SQSBackend, "send_on", real)
    time.sleep(1.5)
    work()
    assert [r["attempt"] for r in tasks.runs] == [1, 2]
    result.refresh()
    assert result.status == TaskResultStatus.SUCCESSFUL and result.attempts == 2
    assert counts(sqs, DEFAULT) == {"visible": 0, "in_flight": 0, "delayed": 0}


def test_a_failure_the_result_store_cannot_record_is_retried_not_lost(sqs, settings, monkeypatch, caplog):
    """Without a dead-letter queue a task queue deletes a message whose receiver raised. The
    store's error while recording a failed attempt escaped the receiver: the message was
    deleted, the task never retried and its result RUNNING for ever."""
    import time

    from django_sqs.tasks.results.store import DatabaseResultStore

    use_backend(settings, MAX_ATTEMPTS=3, BACKOFF=1, VISIBILITY_TIMEOUT=1)
    result = tasks.attempt_and_id.enqueue(fail_until=1)
    real_save = DatabaseResultStore.save

    def down_for_the_failure(self, result, *args, **kwargs):
        if result.status == TaskResultStatus.READY:
            raise RuntimeError("database is down")
        return real_save(self, result, *args, **kwargs)

    monkeypatch.setattr(DatabaseResultStore, "save", down_for_the_failure)
    with caplog.at_level(logging.INFO, logger="django_sqs"):
        work()
    monkeypatch.setattr(DatabaseResultStore, "save", real_save)
    time.sleep(1.5)
    work()
    assert [r["attempt"] for r in tasks.runs] == [1, 2]
    result.refresh()
    assert result.status == TaskResultStatus.SUCCESSFUL and result.attempts == 2
    assert counts(sqs, DEFAULT) == {"visible": 0, "in_flight": 0, "delayed": 0}
    assert any(m.startswith("task attempt 1/3 failed but the result store") for m in caplog.messages)


def test_killed_after_recording_a_failure_before_the_retry_the_task_runs_attempt_two_once(server, tmp_path, settings):
    options = {"MAX_ATTEMPTS": 3, "BACKOFF": 1, "VISIBILITY_TIMEOUT": 2}
    use_backend(settings, **options)
    result = tasks.attempt_and_id.enqueue(fail_until=1)
    first = _killed_after("django_sqs.tasks.running:TaskRun.failed", server, tmp_path, options)
    assert [r["attempt"] for r in first] == [1]
    later, log = _rescue(server, tmp_path, options, wait_seconds=3)
    assert [r["attempt"] for r in later] == [2], log
    result.refresh()
    assert result.status == TaskResultStatus.SUCCESSFUL and result.attempts == 2
    assert [e.exception_class_path for e in result.errors] == ["builtins.ValueError"]
    assert counts(get_client(), DEFAULT) == {"visible": 0, "in_flight": 0, "delayed": 0}


def test_a_message_delivered_again_while_its_task_runs_is_not_run_alongside(sqs, settings):
    """SQS delivers a standard queue's message twice at times, the second time while the first
    receive's run goes on. The second receive read RUNNING from this very message and took it
    for a worker cut off: it ran the task again, alongside. A message whose worker was cut off
    comes back only after its visibility timeout, so a run that started less than a
    visibility timeout ago is still going."""
    from django_sqs.exceptions import RestartLater
    from django_sqs.tasks.compat import task_backends
    from django_sqs.tasks.envelope import TaskMessage
    from django_sqs.tasks.running import TaskRun, load_task

    use_backend(settings, MAX_ATTEMPTS=3, VISIBILITY_TIMEOUT=60)
    result = tasks.attempt_and_id.enqueue()
    rq = registry.get(DEFAULT)
    first, again = [
        TaskMessage.from_sqs(sqs.receive_message(QueueUrl=url(), VisibilityTimeout=0)["Messages"][0], rq.full_name())
        for _ in range(2)
    ]
    assert first.id == again.id
    backend = task_backends["default"]
    envelope = first.get_body()
    running = TaskRun(backend, load_task(envelope, backend), envelope, first)
    assert running.begin()
    with pytest.raises(RestartLater) as kept:
        rq.receiver(again)
    assert kept.value.delay == 60
    assert tasks.runs == []
    running.run_sync()
    result.refresh()
    assert result.status == TaskResultStatus.SUCCESSFUL and result.attempts == 1 and result.errors == []


def test_a_cut_off_last_attempt_the_store_cannot_record_is_logged_once_and_kept(sqs, settings, monkeypatch, caplog):
    """The store's error while recording a cut-off last attempt was logged twice (the failure,
    then 'result store unavailable, task not started') and the message kept for the outage
    delay instead of the visibility timeout."""
    import datetime as dt

    from django_sqs.exceptions import RestartLater
    from django_sqs.tasks.envelope import TaskMessage
    from django_sqs.tasks.results.store import DatabaseResultStore

    use_backend(settings, MAX_ATTEMPTS=1, VISIBILITY_TIMEOUT=30)
    result = tasks.attempt_and_id.enqueue()
    rq = registry.get(DEFAULT)
    record = sqs.receive_message(QueueUrl=url(), VisibilityTimeout=0)["Messages"][0]
    long_ago = timezone.now() - dt.timedelta(minutes=5)
    TaskResultRecord.objects.filter(id=result.id).update(
        status=TaskResultStatus.RUNNING, worker_ids=["killed"], started_at=long_ago, last_attempted_at=long_ago,
        message_id=record["MessageId"],
    )

    def down(self, result, *args, **kwargs):
        raise RuntimeError("database is down")

    monkeypatch.setattr(DatabaseResultStore, "save", down)
    with caplog.at_level(logging.INFO, logger="django_sqs"), pytest.raises(RestartLater) as kept:
        rq.receiver(TaskMessage.from_sqs(record, rq.full_name()))
    assert kept.value.delay == 30
    errors = [r.getMessage().split(" queue=")[0] for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == ["task attempt 1/1 failed but the result store cannot record it; keeping it for 30 s"]
    assert tasks.runs == []
