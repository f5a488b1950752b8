"""The SQS tasks backend on the sending side: enqueue, validation, queues, results, checks
(moto's in-process SQS). Mirrors django-tasks' backend tests where they apply."""

import datetime as dt
import logging

import pytest
from django.core import checks
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from django_sqs import provisioning, register
from django_sqs.exceptions import ConfigurationError, MessageTooLarge
from django_sqs.registry import registry
from django_sqs.tasks import SQSBackend, compat, enqueue_many, enqueue_on_commit
from django_sqs.tasks.compat import (
    InvalidTask,
    TaskResultDoesNotExist,
    TaskResultMismatch,
    TaskResultStatus,
    task_backends,
)
from django_sqs.tasks.results.models import TaskResultRecord
from tests import tasks
from tests.task_helpers import FRAMEWORK_LOGGER, STORE, bodies, counts, use_backend

DEFAULT = "tasks__default__default"


# -- enqueue -------------------------------------------------------------------------------
def test_enqueue_returns_a_ready_result_and_sends_one_envelope(sqs, settings):
    use_backend(settings, store=False)
    result = tasks.noop_task.enqueue()
    assert result.status == TaskResultStatus.READY
    assert result.task == tasks.noop_task and result.args == [] and result.kwargs == {}
    assert result.backend == "default" and len(result.id) == 32
    assert result.enqueued_at is not None and not result.is_finished
    (body,) = bodies(sqs, DEFAULT)
    assert body == {
        "v": 1, "id": result.id, "task": "tests.tasks.noop_task", "args": [], "kwargs": {},
        "backend": "default", "queue": "default", "priority": 0,
        "enqueued_at": result.enqueued_at.isoformat(), "run_after": None, "attempt": 1,
    }


def test_enqueue_arguments_are_json_normalised(sqs, settings):
    use_backend(settings, store=False)
    result = tasks.noop_task.enqueue((1, 2), b"bytes", key={"a": (3,)})
    assert result.args == [[1, 2], "bytes"] and result.kwargs == {"key": {"a": [3]}}
    (body,) = bodies(sqs, DEFAULT)
    assert body["args"] == [[1, 2], "bytes"] and body["kwargs"] == {"key": {"a": [3]}}


def test_non_json_argument_is_refused_before_sending(sqs, settings):
    use_backend(settings, store=False)
    with pytest.raises(TypeError, match="Unsupported type"):
        tasks.noop_task.enqueue(object())
    assert counts(sqs, DEFAULT)["visible"] == 0


def test_task_queue_goes_to_its_own_sqs_queue(sqs, settings):
    use_backend(settings, store=False)
    tasks.send_email.enqueue("a@example.com")
    assert [b["kwargs"] or b["args"] for b in bodies(sqs, "tasks__default__emails")] == [["a@example.com"]]
    assert counts(sqs, DEFAULT)["visible"] == 0


def test_enqueue_logs_and_sends_task_enqueued_with_the_backend_class(sqs, settings, caplog):
    use_backend(settings, store=False)
    seen = []

    def on_enqueued(sender, task_result, **kwargs):
        seen.append((sender, task_result.status, task_result.enqueued_at))

    compat.task_enqueued.connect(on_enqueued)
    try:
        with caplog.at_level(logging.DEBUG, logger=FRAMEWORK_LOGGER):
            result = tasks.noop_task.enqueue()
    finally:
        compat.task_enqueued.disconnect(on_enqueued)
    assert seen == [(SQSBackend, TaskResultStatus.READY, result.enqueued_at)]
    assert f"Task id={result.id} path=tests.tasks.noop_task enqueued backend=default" in caplog.messages


def test_aenqueue(sqs, settings):
    import asyncio

    use_backend(settings, store=False)
    result = asyncio.run(tasks.noop_task_async.aenqueue(1))
    assert result.status == TaskResultStatus.READY and result.args == [1]
    assert [b["task"] for b in bodies(sqs, DEFAULT)] == ["tests.tasks.noop_task_async"]


# -- validation ------------------------------------------------------------------------------
@pytest.fixture
def two_backends(settings):
    """"default" is ours; "immediate" accepts what ours refuses (priority, any queue)."""
    settings.TASKS = {
        "default": {"BACKEND": "django_sqs.tasks.SQSBackend", "QUEUES": ["default"]},
        "immediate": {"BACKEND": f"{compat.FRAMEWORK}.backends.immediate.ImmediateBackend", "QUEUES": []},
    }


@pytest.mark.parametrize(
    "change, message",
    [
        ({"priority": 10}, "priority"),
        ({"queue_name": "unknown"}, "Queue 'unknown' is not valid for backend"),
    ],
)
def test_enqueue_validates_a_task_made_for_another_backend(sqs, two_backends, change, message):
    elsewhere = tasks.noop_task.using(backend="immediate", **change)
    with pytest.raises(InvalidTask, match=message):
        task_backends["default"].enqueue(elsewhere, (), {})
    with pytest.raises(InvalidTask, match=message):
        import asyncio

        asyncio.run(task_backends["default"].aenqueue(elsewhere, (), {}))


def test_invalid_priority_and_unknown_queue_are_refused_on_using(sqs, settings):
    use_backend(settings, store=False)
    with pytest.raises(InvalidTask, match="does not support setting priority"):
        tasks.noop_task.using(priority=1)
    with pytest.raises(InvalidTask, match="not valid for backend"):
        tasks.noop_task.using(queue_name="nope")


def test_naive_run_after_is_refused(sqs, settings):
    use_backend(settings, store=False)
    with pytest.raises(InvalidTask, match="aware"):
        tasks.noop_task.using(run_after=dt.datetime.now())


def test_takes_context_without_a_context_argument_is_refused(settings):
    use_backend(settings, store=False)

    with pytest.raises(InvalidTask, match="context"):
        compat.task(takes_context=True)(tasks.calculate_meaning_of_life.func)


def test_fifo_queue_refuses_run_after(sqs, settings):
    use_backend(settings, store=False)
    with pytest.raises(InvalidTask, match="FIFO"):
        tasks.fifo_order.using(run_after=timezone.now() + dt.timedelta(minutes=1))


def test_fifo_task_is_sent_in_the_group_of_its_function(sqs, settings):
    use_backend(settings, store=False)
    tasks.fifo_order.enqueue(1)
    (message,) = _raw(sqs, "tasks__default__orders.fifo")
    assert message["Attributes"]["MessageGroupId"] == "tests.tasks.fifo_order"


def _raw(sqs, name):
    url = provisioning.queue_url(registry.get(name))
    return sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["All"])["Messages"]


# -- run_after ---------------------------------------------------------------------------------
def test_run_after_within_15_minutes_is_a_delay_seconds(sqs, settings):
    use_backend(settings, store=False)
    run_after = timezone.now() + dt.timedelta(seconds=120)
    tasks.noop_task.using(run_after=run_after).enqueue()
    assert counts(sqs, DEFAULT) == {"visible": 0, "in_flight": 0, "delayed": 1}


def test_run_after_further_out_is_delayed_15_minutes_and_carries_its_time(sqs, settings, monkeypatch):
    use_backend(settings, store=False)
    sent = []
    from django_sqs.tasks import enqueueing

    real = enqueueing.send_message
    monkeypatch.setattr(enqueueing, "send_message", lambda rq, m, **kw: sent.append(kw) or real(rq, m, **kw))
    run_after = timezone.now() + dt.timedelta(days=2)
    tasks.noop_task.using(run_after=run_after).enqueue()
    assert sent == [{"suffix": None, "delay_seconds": 900}]
    assert counts(sqs, DEFAULT)["delayed"] == 1


# -- priority ------------------------------------------------------------------------------------
LEVELS = [("high", 10), (None, -9), ("low", -100)]


def test_priority_levels_route_to_suffixed_queues(sqs, settings):
    use_backend(settings, store=False, PRIORITY_LEVELS=LEVELS)
    backend = task_backends["default"]
    assert backend.supports_priority
    for priority in (100, 10, 9, 0, -9, -10, -100):
        tasks.noop_task.using(priority=priority).enqueue(priority)
    assert sorted(b["args"][0] for b in bodies(sqs, DEFAULT, "high")) == [10, 100]
    assert sorted(b["args"][0] for b in bodies(sqs, DEFAULT)) == [-9, 0, 9]
    assert sorted(b["args"][0] for b in bodies(sqs, DEFAULT, "low")) == [-100, -10]


def test_priority_levels_are_declared_for_the_worker(settings):
    use_backend(settings, store=False, PRIORITY_LEVELS=LEVELS)
    rq = registry.get(DEFAULT)
    assert rq.suffixes == ("high", "low")
    assert rq.priority_suffixes == ("high", None, "low")


def test_without_levels_only_priority_zero_and_no_priority_suffixes(settings):
    use_backend(settings, store=False)
    assert not task_backends["default"].supports_priority
    assert registry.get(DEFAULT).priority_suffixes is None


# -- queues ----------------------------------------------------------------------------------------
def test_task_queues_are_registered_by_the_naming_rule(settings):
    use_backend(settings, store=False, DEAD_LETTER_QUEUE=True, MAX_ATTEMPTS=4)
    names = {rq.name for rq in registry}
    assert {"tasks__default__default", "tasks__default__emails", "tasks__default__orders.fifo"} <= names
    assert registry.get(DEFAULT).full_name() == "t__tasks__default__default"
    assert registry.get("tasks__default__orders.fifo").full_name() == "t__tasks__default__orders.fifo"
    rq = registry.get(DEFAULT)
    # The redrive policy is a crash-loop safety net with room for 500 receives that do not run it.
    assert rq.dead_letter_queue == "tasks__default__default__dlq" and rq.max_receive_count == 4 + 500
    assert registry.get("tasks__default__orders.fifo").dead_letter_queue == "tasks__default__orders__dlq.fifo"


def test_commands_work_on_task_queues(sqs, settings, capsys):
    use_backend(settings, store=False, DEAD_LETTER_QUEUE=True)
    call_command("sqs_create_queues", "tasks__default__*")
    urls = sqs.list_queues()["QueueUrls"]
    assert {u.rsplit("/", 1)[1] for u in urls} >= {
        "t__tasks__default__default", "t__tasks__default__default__dlq", "t__tasks__default__orders.fifo",
    }
    tasks.noop_task.enqueue()
    capsys.readouterr()
    call_command("sqs_status", "tasks__default__default")
    assert "t__tasks__default__default" in capsys.readouterr().out
    call_command("sqs_clear", "tasks__default__default")
    assert "1" in capsys.readouterr().out


def test_a_receiver_on_a_task_queue_name_is_a_configuration_error(settings):
    use_backend(settings, store=False)
    with pytest.raises(ConfigurationError, match="already registered"):
        register(DEFAULT, lambda message: None)


def test_queues_follow_the_tasks_setting(settings):
    use_backend(settings, store=False, queues=["default", "reports"])
    assert "tasks__default__reports" in registry and "tasks__default__emails" not in registry


def test_backend_init_makes_no_network_or_database_call(settings, monkeypatch):
    # No sqs fixture and no django_db mark: any AWS call or query would fail this test.
    from django_sqs import client

    monkeypatch.setattr(client, "get_client", lambda: pytest.fail("AWS client created"))
    backend = SQSBackend("x", {"QUEUES": ["default"], "OPTIONS": {"RESULT_STORE": STORE, "PRIORITY_LEVELS": LEVELS}})
    assert backend.supports_get_result and backend.supports_priority and backend.supports_defer
    assert backend.check() == []


# -- enqueue_many ------------------------------------------------------------------------------------
def test_enqueue_many_sends_batches_of_ten(server, settings):
    use_backend(settings, store=False)
    results = enqueue_many(tasks.noop_task, [((i,), {"n": i}) for i in range(25)])
    assert [r.args for r in results] == [[i] for i in range(25)]
    assert len({r.id for r in results}) == 25
    sent = server.counts()
    assert sent["SendMessageBatch"] == 3 and "SendMessage" not in sent  # 25 tasks: 10 + 10 + 5


def test_enqueue_many_checks_every_item_before_sending(sqs, settings):
    use_backend(settings, store=False)
    with pytest.raises(TypeError, match="Unsupported type"):
        enqueue_many(tasks.noop_task, [((1,), {}), ((object(),), {})])
    with pytest.raises(MessageTooLarge):
        enqueue_many(tasks.noop_task, [((1,), {}), (("x" * 1_100_000,), {})])
    with pytest.raises(TypeError, match="pairs"):
        enqueue_many(tasks.noop_task, [1])
    assert counts(sqs, DEFAULT)["visible"] == 0


def test_enqueue_many_and_on_commit_need_an_sqs_backend(two_backends):
    elsewhere = tasks.noop_task.using(backend="immediate")
    with pytest.raises(InvalidTask, match="not an SQSBackend"):
        enqueue_many(elsewhere, [((), {})])
    with pytest.raises(InvalidTask, match="not an SQSBackend"):
        enqueue_on_commit(elsewhere)


# -- enqueue_on_commit ---------------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_enqueue_on_commit_sends_after_commit_and_not_after_rollback(sqs, settings):
    use_backend(settings)
    with transaction.atomic():
        kept = enqueue_on_commit(tasks.noop_task, "kept", using="default")
        assert kept.status == TaskResultStatus.READY
        assert counts(sqs, DEFAULT)["visible"] == 0
    try:
        with transaction.atomic():
            enqueue_on_commit(tasks.noop_task, "dropped")
            raise RuntimeError("roll back")
    except RuntimeError:
        pass
    assert [b["args"] for b in bodies(sqs, DEFAULT)] == [["kept"]]
    assert kept.enqueued_at is not None
    assert list(TaskResultRecord.objects.values_list("id", flat=True)) == [kept.id]


def test_enqueue_on_commit_raises_in_the_caller(sqs, settings):
    use_backend(settings, store=False)
    with pytest.raises(TypeError, match="Unsupported type"):
        enqueue_on_commit(tasks.noop_task, object())
    with pytest.raises(MessageTooLarge):
        enqueue_on_commit(tasks.noop_task, "x" * 1_100_000)


def test_too_large_task_sends_nothing(sqs, settings):
    use_backend(settings, store=False)
    with pytest.raises(MessageTooLarge, match="Nothing was sent"):
        tasks.noop_task.enqueue("x" * 1_100_000)
    assert counts(sqs, DEFAULT)["visible"] == 0


# -- results ------------------------------------------------------------------------------------------------
def test_without_a_store_get_result_is_not_implemented_and_no_query_runs(sqs, settings):
    # No django_db mark: a query would fail the test.
    use_backend(settings, store=False)
    result = tasks.noop_task.enqueue()
    backend = task_backends["default"]
    assert not backend.supports_get_result
    with pytest.raises(NotImplementedError):
        backend.get_result(result.id)
    with pytest.raises(NotImplementedError):
        result.refresh()


@pytest.mark.django_db
def test_get_result_reads_the_store(sqs, settings):
    use_backend(settings)
    result = tasks.calculate_meaning_of_life.enqueue()
    got = tasks.calculate_meaning_of_life.get_result(result.id)
    assert got.id == result.id and got.status == TaskResultStatus.READY
    assert got.task.func is tasks.calculate_meaning_of_life.func
    assert got.enqueued_at == result.enqueued_at
    with pytest.raises(TaskResultMismatch):
        tasks.noop_task.get_result(result.id)


@pytest.mark.django_db
def test_get_missing_result(sqs, settings):
    use_backend(settings)
    with pytest.raises(TaskResultDoesNotExist):
        task_backends["default"].get_result("nope")
    with pytest.raises(TaskResultDoesNotExist):
        tasks.noop_task.get_result("nope")


@pytest.mark.django_db
def test_a_failed_send_leaves_no_result_behind(sqs, settings, monkeypatch):
    use_backend(settings)
    from django_sqs.exceptions import SQSRequestError
    from django_sqs.tasks import enqueueing

    def refuse(*args, **kwargs):
        raise SQSRequestError("SQS is away", transient=True)

    monkeypatch.setattr(enqueueing, "send_message", refuse)
    with pytest.raises(SQSRequestError):
        tasks.noop_task.enqueue()
    assert not TaskResultRecord.objects.exists()


# -- checks --------------------------------------------------------------------------------------------------
def _ids(errors):
    return sorted(e.id for e in errors)


@pytest.mark.parametrize(
    "options",
    [
        {"PRIORITY_LEVELS": [("high", 10), ("low", 20)]},
        {"PRIORITY_LEVELS": [("bad name", 10)]},
        {"PRIORITY_LEVELS": []},
        {"MAX_ATTEMPTS": 0},
        {"BACKOFF": -1},
        {"VISIBILITY_TIMEOUT": "60"},
        {"DEAD_LETTER_QUEUE": "yes"},
        {"RESULT_STORE": 3},
        {"MAX_ATEMPTS": 3},
    ],
)
def test_wrong_options_are_system_check_errors(options):
    backend = SQSBackend("default", {"QUEUES": ["default"], "OPTIONS": options})
    errors = backend.check()
    assert _ids(errors) == ["django_sqs.E040"] and errors[0].hint


def test_empty_queues_is_a_check_error():
    backend = SQSBackend("default", {"QUEUES": [], "OPTIONS": {}})
    assert _ids(backend.check()) == ["django_sqs.E041"]


def test_result_store_that_cannot_be_imported_is_a_check_error():
    backend = SQSBackend("default", {"QUEUES": ["default"], "OPTIONS": {"RESULT_STORE": "nowhere.Store"}})
    assert _ids(backend.check()) == ["django_sqs.E042"]


def test_database_store_without_its_app_is_a_check_error(settings):
    settings.INSTALLED_APPS = [a for a in settings.INSTALLED_APPS if a != "django_sqs.tasks.results"]
    backend = SQSBackend("default", {"QUEUES": ["default"], "OPTIONS": {"RESULT_STORE": STORE}})
    assert _ids(backend.check()) == ["django_sqs.E043"]


def test_fifo_retries_without_a_result_store_are_a_check_warning():
    backend = SQSBackend("default", {"QUEUES": ["default", "orders.fifo"], "OPTIONS": {"MAX_ATTEMPTS": 3}})
    (warning,) = backend.check()
    assert warning.id == "django_sqs.W031" and "'orders.fifo'" in warning.msg and "RESULT_STORE" in warning.hint
    one_attempt = SQSBackend("default", {"QUEUES": ["orders.fifo"], "OPTIONS": {}})
    with_store = SQSBackend("default", {"QUEUES": ["orders.fifo"], "OPTIONS": {"MAX_ATTEMPTS": 3, "RESULT_STORE": STORE}})
    assert one_attempt.check() == [] and with_store.check() == []


@pytest.mark.django_db  # Django 6.1's model checks ask the database about JSONField
def test_checks_run_through_manage_py_check(settings):
    use_backend(settings, store=False, MAX_ATTEMPTS="3")
    errors = checks.run_checks()
    assert "django_sqs.E040" in _ids(errors)


def test_signals_are_those_of_the_running_framework():
    import django

    if django.VERSION >= (6, 0):
        from django.tasks import signals
    else:
        from django_tasks import signals
    assert compat.task_started is signals.task_started and compat.task_finished is signals.task_finished
    assert issubclass(SQSBackend, compat.BaseTaskBackend)


# -- errors that say what to change (issue 17 item 10) ------------------------------------------------
def test_a_queue_the_backend_does_not_list_names_the_task_and_the_setting(settings):
    use_backend(settings, store=False)
    with pytest.raises(InvalidTask) as info:
        tasks.noop_task.using(queue_name="reports")
    message = str(info.value)
    assert message.startswith("tests.tasks.noop_task: Queue 'reports' is not valid")
    assert "TASKS['default'][\"QUEUES\"] is ['default', 'emails', 'orders.fifo']: add 'reports' there" in message


def test_a_priority_without_levels_names_the_setting(settings):
    use_backend(settings, store=False)
    with pytest.raises(InvalidTask, match=r'tests.tasks.noop_task: .*TASKS\[\'default\'\]\["OPTIONS"\]\["PRIORITY_LEVELS"\]'):
        tasks.noop_task.using(priority=10)


@pytest.mark.parametrize(
    "args, kwargs, which",
    [((object(),), {}, "argument 0 (object)"), ((1,), {"when": {1, 2}}, "keyword argument 'when' (set)")],
)
def test_an_argument_that_is_not_json_is_named_with_the_task(sqs, settings, args, kwargs, which):
    use_backend(settings, store=False)
    with pytest.raises(TypeError) as info:
        tasks.noop_task.enqueue(*args, **kwargs)
    message = str(info.value)
    assert message.startswith(f"tests.tasks.noop_task: {which} cannot be sent as JSON (Unsupported type:")
    assert counts(sqs, DEFAULT)["visible"] == 0
