"""A task brought back from the dead-letter queue after a crash loop (issue 16 §1).

Each receive's worker was killed mid-task until SQS's redrive policy moved the message to
the dead-letter queue (keeping its message id): the result stays RUNNING from that message.
The operator's redrive sends it back as a new message. The receiver read "attempt N runs
from message X", took it for a second copy of a live run and deleted it: the redrive did
nothing. Each way back is tried: ``sqs_redrive``, the dashboard's retry, and a plain re-send
of the same body (what SQS's StartMessageMoveTask does)."""

import datetime as dt
import json
import logging

import pytest
from django.core.management import call_command
from django.utils import timezone

from django_sqs import provisioning
from django_sqs.dashboard import actions
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
MAX_ATTEMPTS = 3

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fresh_runs")]


def _crash_looped(sqs, settings, *, cut_off: int, hours_ago: float = 1, fail_until: int = 0) -> tuple:
    """A task whose ``cut_off`` attempts were each killed mid-run, its message then moved to
    the dead-letter queue by SQS's redrive policy: the same message (same id, same body)."""
    use_backend(settings, MAX_ATTEMPTS=MAX_ATTEMPTS, DEAD_LETTER_QUEUE=True)
    call_command("sqs_create_queues", DEFAULT)
    result = tasks.attempt_and_id.enqueue(fail_until=fail_until)
    url = provisioning.queue_url(registry.get(DEFAULT))
    policy = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["RedrivePolicy"])["Attributes"]["RedrivePolicy"]
    (record,) = sqs.receive_message(QueueUrl=url, VisibilityTimeout=0)["Messages"]  # the last run's receive
    started = timezone.now() - dt.timedelta(hours=hours_ago)
    TaskResultRecord.objects.filter(id=result.id).update(
        status=TaskResultStatus.RUNNING, worker_ids=[f"killed:{n}" for n in range(cut_off)],
        started_at=started, last_attempted_at=started, message_id=record["MessageId"],
    )
    # The next receive is past maxReceiveCount: SQS moves the message itself.
    sqs.set_queue_attributes(
        QueueUrl=url, Attributes={"RedrivePolicy": json.dumps({**json.loads(policy), "maxReceiveCount": 1})}
    )
    assert sqs.receive_message(QueueUrl=url).get("Messages", []) == []
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"RedrivePolicy": policy})
    dlq = provisioning.dead_letter_queue(registry.get(DEFAULT))
    (moved,) = sqs.receive_message(QueueUrl=provisioning.queue_url(dlq), VisibilityTimeout=0)["Messages"]
    assert moved["MessageId"] == record["MessageId"] and moved["Body"] == record["Body"]
    return result, record


def _sqs_redrive(sqs, record):
    call_command("sqs_redrive", DEFAULT)


def _dashboard_retry(sqs, record):
    dlq = provisioning.dead_letter_queue(registry.get(DEFAULT))
    actions.retry([registry.get(DEFAULT)], None, dlq.full_name(), record["MessageId"])


@pytest.mark.parametrize("cut_off", [MAX_ATTEMPTS - 1, MAX_ATTEMPTS], ids=["attempts left", "attempts spent"])
@pytest.mark.parametrize("redrive", [_sqs_redrive, _dashboard_retry], ids=["sqs_redrive", "dashboard retry"])
def test_a_crash_looped_task_redriven_runs_exactly_once_more(sqs, settings, caplog, redrive, cut_off):
    result, record = _crash_looped(sqs, settings, cut_off=cut_off)
    redrive(sqs, record)
    assert counts(sqs, DLQ) == {"visible": 0, "in_flight": 0, "delayed": 0}
    with caplog.at_level(logging.INFO, logger="django_sqs"):
        work()
    assert [r["attempt"] for r in tasks.runs] == [cut_off + 1], caplog.messages
    work()  # nothing left over to run it again
    assert len(tasks.runs) == 1
    result.refresh()
    assert result.status == TaskResultStatus.SUCCESSFUL and result.attempts == cut_off + 1
    assert [e.exception_class_path for e in result.errors] == ["django_sqs.tasks.attempts.AttemptLost"]
    assert counts(sqs, DEFAULT) == counts(sqs, DLQ) == {"visible": 0, "in_flight": 0, "delayed": 0}


def test_a_redriven_task_that_fails_again_goes_back_to_the_dead_letter_queue(sqs, settings):
    result, record = _crash_looped(sqs, settings, cut_off=MAX_ATTEMPTS, fail_until=99)
    call_command("sqs_redrive", DEFAULT)
    work()
    assert [r["attempt"] for r in tasks.runs] == [MAX_ATTEMPTS + 1]
    (body,) = bodies(sqs, DLQ)
    assert body["attempt"] == MAX_ATTEMPTS + 2
    result.refresh()
    assert result.status == TaskResultStatus.FAILED


def test_two_copies_of_one_redrive_do_not_run_alongside(sqs, settings):
    """An interrupted redrive leaves a message in both queues and sends it twice: both
    copies carry the mark of the same dead-letter message."""
    from django_sqs.tasks.compat import task_backends
    from django_sqs.tasks.envelope import TaskMessage
    from django_sqs.tasks.running import TaskRun, load_task

    result, record = _crash_looped(sqs, settings, cut_off=1)
    call_command("sqs_redrive", DEFAULT)
    rq = registry.get(DEFAULT)
    url = provisioning.queue_url(rq)
    (sent,) = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"], VisibilityTimeout=0)["Messages"]
    sqs.send_message(QueueUrl=url, MessageBody=sent["Body"], MessageAttributes=sent["MessageAttributes"])
    first, second = [
        TaskMessage.from_sqs(r, rq.full_name())
        for r in sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"], MaxNumberOfMessages=10)["Messages"]
    ]
    assert first.id != second.id
    backend = task_backends["default"]
    envelope = first.get_body()
    running = TaskRun(backend, load_task(envelope, backend), envelope, first)
    assert running.begin()
    assert rq.receiver(second) is None  # not run alongside (and deleted: the first runs it)
    running.run_sync()
    assert [r["attempt"] for r in tasks.runs] == [2]
    result.refresh()
    assert result.status == TaskResultStatus.SUCCESSFUL and result.attempts == 2


def _resend(sqs, record):
    """What StartMessageMoveTask does: the same body, a new message id, no mark."""
    sqs.send_message(QueueUrl=provisioning.queue_url(registry.get(DEFAULT)), MessageBody=record["Body"])
    dlq_url = provisioning.queue_url(provisioning.dead_letter_queue(registry.get(DEFAULT)))
    (held,) = sqs.receive_message(QueueUrl=dlq_url)["Messages"]
    sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=held["ReceiptHandle"])


def test_a_plain_resend_is_kept_not_deleted_while_the_old_attempt_may_still_run(sqs, settings, caplog):
    """A plain re-send cannot be told from a second copy of a long run its heartbeat keeps
    alive: it is not run alongside, but kept (not deleted) until SQS's 12-hour cap."""
    result, record = _crash_looped(sqs, settings, cut_off=1, hours_ago=1)
    _resend(sqs, record)
    with caplog.at_level(logging.INFO, logger="django_sqs"):
        work()
    assert tasks.runs == []
    assert counts(sqs, DEFAULT)["in_flight"] == 1  # kept
    (line,) = [r for r in caplog.records if r.getMessage().startswith("task not run yet")]
    assert line.levelno == logging.WARNING
    assert f"attempt 1 runs from message {record['MessageId']}" in line.getMessage()
    result.refresh()
    assert result.status == TaskResultStatus.RUNNING


def test_a_plain_resend_runs_once_more_when_the_old_attempt_is_orphaned(sqs, settings):
    """Past SQS's 12-hour cap no worker holds the old attempt's message any more."""
    result, record = _crash_looped(sqs, settings, cut_off=1, hours_ago=13)
    _resend(sqs, record)
    work()
    work()
    assert [r["attempt"] for r in tasks.runs] == [2]
    result.refresh()
    assert result.status == TaskResultStatus.SUCCESSFUL and result.attempts == 2
    assert counts(sqs, DEFAULT) == {"visible": 0, "in_flight": 0, "delayed": 0}


def test_the_redrive_mark_names_the_latest_dead_letter_message_and_fits_sqs_s_attribute_limit():
    from django_sqs.dead_letters import REDRIVEN_FROM, resend_entry

    marked = resend_entry({"MessageId": "b", "Body": "x", "MessageAttributes": {
        REDRIVEN_FROM: {"DataType": "String", "StringValue": "a"}}}, fifo=False, redrive=True)
    assert marked["MessageAttributes"] == {REDRIVEN_FROM: {"DataType": "String", "StringValue": "b"}}
    full = {f"a{n}": {"DataType": "String", "StringValue": "v"} for n in range(10)}
    entry = resend_entry({"MessageId": "b", "Body": "x", "MessageAttributes": full}, fifo=False, redrive=True)
    assert entry["MessageAttributes"] == full
    # Moved to the dead-letter queue again, it is no longer marked.
    moved = resend_entry({"MessageId": "c", "Body": "x", "MessageAttributes": marked["MessageAttributes"]}, fifo=False)
    assert "MessageAttributes" not in moved


def test_a_task_killed_until_sqs_moved_it_runs_once_more_after_sqs_redrive(server, tmp_path, settings):
    """The crash loop for real: workers SIGKILLed mid-task until the redrive policy
    (``maxReceiveCount`` 2, set outside django_sqs) moves the message, then ``sqs_redrive``."""
    import time

    from django_sqs.client import get_client
    from tests.test_tasks_review import _killed_after, _rescue

    options = {"MAX_ATTEMPTS": MAX_ATTEMPTS, "DEAD_LETTER_QUEUE": True, "VISIBILITY_TIMEOUT": 1}
    use_backend(settings, **options)
    call_command("sqs_create_queues", DEFAULT)
    client = get_client()
    url = provisioning.queue_url(registry.get(DEFAULT))
    policy = json.loads(client.get_queue_attributes(QueueUrl=url, AttributeNames=["RedrivePolicy"])
                        ["Attributes"]["RedrivePolicy"])
    client.set_queue_attributes(QueueUrl=url, Attributes={"RedrivePolicy": json.dumps({**policy, "maxReceiveCount": 2})})
    result = tasks.attempt_and_id.enqueue()
    for _ in range(2):
        _killed_after("django_sqs.tasks.running:TaskRun.start", server, tmp_path, options)
        time.sleep(1.5)  # the killed worker's message visible again
    moved, log = _rescue(server, tmp_path, options, wait_seconds=0)  # the third receive: SQS moves it
    assert moved == [], log
    assert counts(client, DLQ)["visible"] == 1, log
    result.refresh()
    assert result.status == TaskResultStatus.RUNNING and result.attempts == 2
    call_command("sqs_redrive", DEFAULT)
    later, log = _rescue(server, tmp_path, options, wait_seconds=0)
    assert [r["attempt"] for r in later] == [3], log
    result.refresh()
    assert result.status == TaskResultStatus.SUCCESSFUL and result.attempts == 3
    assert [e.exception_class_path for e in result.errors] == ["django_sqs.tasks.attempts.AttemptLost"] * 2
    assert counts(client, DEFAULT) == counts(client, DLQ) == {"visible": 0, "in_flight": 0, "delayed": 0}
