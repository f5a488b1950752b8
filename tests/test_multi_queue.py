"""Many queues in one worker (issue 18, SPEC §13), in-process: the strategies that choose
which queue to receive from, ``runreceiver --weights``/``--together``/``--group``,
``SQS_WORKERS`` and its system checks, and ``sqs_status`` naming the group of a queue."""

from __future__ import annotations

import io
import json
from collections import Counter

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from django_sqs import send_many
from django_sqs import worker_groups as groups
from django_sqs.checks import check_settings
from django_sqs.registry import registry
from django_sqs.worker.groups import plan_of
from django_sqs.worker.lifecycle import sources_for
from django_sqs.worker.strategy import Strict, Weighted, strategy_for
from tests.queue_helpers import counts
from tests.test_threads_priority import PRIORITY, entries, inversions

QUEUES = [registry.get(name) for name in PRIORITY]


def sources():
    return sources_for(QUEUES)


def serve_backlogged(strategy, rounds: int, batch: int = 10, empty=()) -> Counter:
    """What a worker receives over ``rounds`` rounds when every queue but ``empty`` always
    has ``batch`` messages to give."""
    got: Counter = Counter()
    for _ in range(rounds):
        for source in strategy.candidates():
            n = 0 if source.rq.name in empty else batch
            strategy.found(source, n)
            if n:
                got[source.rq.name] += n
                break
    return got


# -- strategies ---------------------------------------------------------------------------


def test_weighted_shares_follow_the_weights_with_every_queue_backlogged():
    strategy = strategy_for(sources(), {"prio_high": 3, "prio_mid": 2, "prio_low": 1})
    got = serve_backlogged(strategy, 600)  # 6,000 messages
    total = sum(got.values())
    assert total == 6000
    for name, weight in (("prio_high", 3), ("prio_mid", 2), ("prio_low", 1)):
        assert abs(got[name] / total - weight / 6) <= 0.1 * weight / 6, got


def test_weighted_picks_are_spread_so_no_queue_waits_long():
    strategy = strategy_for(sources(), {"prio_high": 5, "prio_mid": 1, "prio_low": 1})
    order = []
    for _ in range(70):
        source = next(strategy.candidates())
        strategy.found(source, 10)
        order.append(source.rq.name)
    for name in ("prio_mid", "prio_low"):
        at = [i for i, n in enumerate(order) if n == name]
        assert max(b - a for a, b in zip(at, at[1:], strict=False)) <= 7  # one turn in every 7 rounds


def test_an_empty_queue_is_parked_and_the_others_share_its_turns():
    strategy = strategy_for(sources(), {"prio_high": 3, "prio_mid": 2, "prio_low": 1})
    got = serve_backlogged(strategy, 300, empty={"prio_high"})
    assert got["prio_high"] == 0
    assert abs(got["prio_mid"] / (got["prio_mid"] + got["prio_low"]) - 2 / 3) <= 0.1 * 2 / 3
    high = next(s for s in strategy.sources if s.rq.name == "prio_high")
    assert high in strategy.parked  # asked once, then left to its long poll
    assert strategy.may_long_poll(high)
    strategy.found(high, 4)  # its long poll brought messages: back in the rounds
    assert high in strategy.active()


def test_weight_zero_is_served_only_when_the_others_are_empty():
    strategy = strategy_for(sources(), {"prio_high": 1, "prio_mid": 1, "prio_low": 0})
    assert serve_backlogged(strategy, 100)["prio_low"] == 0
    low = next(s for s in strategy.sources if s.rq.name == "prio_low")
    strategy.found(low, 0)
    assert not strategy.may_long_poll(low)  # others have messages: not even its long poll
    serve_backlogged(strategy, 1, empty={"prio_high", "prio_mid"})  # the others run dry
    assert strategy.may_long_poll(low)  # now it has its long poll, which brings messages:
    strategy.found(low, 5)
    assert serve_backlogged(strategy, 10, empty={"prio_high", "prio_mid"})["prio_low"] == 100


def test_weighted_queues_have_no_rank_between_them():
    strategy = strategy_for(sources(), {})
    assert isinstance(strategy, Weighted)
    assert {s.rank for s in strategy.sources} == {0}
    assert set(strategy.weights.values()) == {1}  # --together: equal weights


def test_strict_asks_in_rank_order_and_long_polls_below_an_active_queue_only_when_it_is_parked():
    strategy = Strict(sources())
    high, mid, low = strategy.sources
    assert list(strategy.candidates()) == [high, mid, low]
    strategy.found(high, 0)
    assert list(strategy.candidates()) == [mid, low]
    assert strategy.may_long_poll(high)
    strategy.found(low, 0)
    assert not strategy.may_long_poll(low)  # mid has a backlog: low is not polled
    strategy.found(mid, 0)
    assert strategy.may_long_poll(low)  # idle: every level has its long poll


# -- runreceiver in-process ------------------------------------------------------------------


def test_weighted_worker_drains_every_queue(server):
    for name in PRIORITY:
        send_many(name, [{"n": i} for i in range(15)])
    call_command("runreceiver", *PRIORITY, "--weights", "prio_high=3,prio_mid=2,prio_low=1", "--burst")
    assert Counter(c["queue"] for c in entries("start")) == {f"t__{n}": 15 for n in PRIORITY}
    for name in PRIORITY:
        assert counts(f"t__{name}") == (0, 0)


def test_weighted_worker_serves_queues_by_weight_not_by_order(server):
    for name in PRIORITY:
        send_many(name, [{"n": i} for i in range(30)])
    call_command("runreceiver", *PRIORITY, "--weights", "prio_high=1,prio_mid=1,prio_low=4", "--message-limit", "60")
    got = Counter(c["queue"] for c in entries("start"))
    assert sum(got.values()) == 60
    # With strict order prio_low would get nothing; by weight it gets most.
    assert got["t__prio_low"] > got["t__prio_high"] and got["t__prio_low"] > got["t__prio_mid"], got


def test_together_with_the_same_queue_order_as_priority_is_not_strict(server):
    for name in reversed(PRIORITY):
        send_many(name, [{"n": i} for i in range(20)])
    call_command("runreceiver", *PRIORITY, "--together", "--message-limit", "30")
    got = Counter(c["queue"] for c in entries("start"))
    assert len(got) == 3 and min(got.values()) >= 5, got  # each queue had its turns


@pytest.mark.parametrize(
    "args, message",
    [
        (("--weights", "prio_high=2"), "--weights needs the queue names"),
        (("--together",), "--together needs the queue names"),
        (("prio_high", "--weights", "prio_mid=2"), "not served here: prio_mid"),
        (("prio_high", "--group", "small"), "either --group or queue names"),
        (("--group", "nope"), "No worker group named nope"),
    ],
)
def test_bad_grouping_options_are_command_errors(args, message, settings):
    settings.SQS_WORKERS = [{"name": "small", "queues": ["prio_*"]}]
    with pytest.raises(CommandError, match=message):
        call_command("runreceiver", *args)


@pytest.mark.parametrize("value", ["a", "a=x", "a=-1", "=3", "a=0"])
def test_malformed_weights_are_usage_errors(value, tmp_path):
    import subprocess
    import sys

    from tests.processes import ROOT

    result = subprocess.run(
        [sys.executable, "-m", "django", "runreceiver", "prio_high", "--weights", value],
        cwd=ROOT, capture_output=True, text=True, env={**__import__("os").environ, "DJANGO_SETTINGS_MODULE": "tests.settings"},
    )
    assert result.returncode == 2
    assert "--weights" in result.stderr and "Traceback" not in result.stderr


# -- SQS_WORKERS -------------------------------------------------------------------------------


def test_plan_without_names_runs_the_declared_groups_and_a_process_for_every_other_queue(settings):
    settings.SQS_WORKERS = [
        {"name": "levels", "queues": list(PRIORITY), "mode": "priority", "threads": 2},
        {"name": "small", "queues": ["jobs", "echo"], "weights": {"jobs": 3}, "concurrency": 2},
    ]
    planned = groups.plan(registry.with_receivers(), named=False)
    by_name = {g.name: g for g in planned}
    assert by_name["levels"].mode == "priority" and [rq.name for rq in by_name["levels"].queues] == list(PRIORITY)
    assert by_name["small"].mode == "weighted" and by_name["small"].weights == {"jobs": 3}
    alone = [g for g in planned if not g.declared]
    assert all(len(g.queues) == 1 and g.mode == "single" for g in alone)
    served = [rq.name for g in planned for rq in g.queues]
    assert sorted(served) == sorted(rq.name for rq in registry.with_receivers())  # each queue once
    small = plan_of(by_name["small"], suffix=None, threads=None, concurrency=None)
    assert (small.label, small.concurrency, small.threads) == ("small", 2, 1)
    assert plan_of(by_name["levels"], suffix=None, threads=None, concurrency=3).concurrency == 3  # the command line wins


def test_without_sqs_workers_runreceiver_keeps_a_process_per_queue():
    planned = groups.plan(registry.with_receivers(), named=False)
    assert all(g.mode == "single" and len(g.queues) == 1 for g in planned)


def test_named_queues_ignore_sqs_workers(settings):
    settings.SQS_WORKERS = [{"name": "small", "queues": ["jobs", "echo"]}]
    planned = groups.plan([registry.get("jobs"), registry.get("echo")], named=True)
    assert [g.mode for g in planned] == ["single", "single"]


def test_group_option_runs_that_group(server, settings):
    settings.SQS_WORKERS = [{"name": "levels", "queues": list(PRIORITY), "mode": "priority"}]
    for name in reversed(PRIORITY):
        send_many(name, [{"n": i} for i in range(5)])
    call_command("runreceiver", "--group", "levels", "--burst")
    starts = entries("start")
    assert len(starts) == 15
    assert inversions(starts, {f"t__{n}": r for r, n in enumerate(PRIORITY)}) == 0


def ids_of(errors):
    return sorted(e.id for e in errors)


@pytest.mark.parametrize(
    "value, check_id, text",
    [
        ("small", "django_sqs.E050", "list of dicts"),
        ([{"name": "a", "queues": ["jobs"], "thread": 2}], "django_sqs.E050", "unknown key(s): thread"),
        ([{"queues": ["jobs"]}], "django_sqs.E051", "unique, non-empty string 'name'"),
        ([{"name": "a", "queues": ["jobs"]}, {"name": "a", "queues": ["echo"]}], "django_sqs.E051", "used twice"),
        ([{"name": "a", "queues": []}], "django_sqs.E052", "non-empty list"),
        ([{"name": "a", "queues": ["nope"]}], "django_sqs.E053", "matches no registered queue"),
        ([{"name": "a", "queues": ["jobs"]}, {"name": "b", "queues": ["jo*"]}], "django_sqs.E054", "in two groups"),
        ([{"name": "a", "queues": ["jobs"], "mode": "fast"}], "django_sqs.E055", "mode 'fast'"),
        ([{"name": "a", "queues": ["jobs"], "threads": 0}], "django_sqs.E056", "threads=0"),
        ([{"name": "a", "queues": ["jobs"], "concurrency": "2"}], "django_sqs.E056", "concurrency='2'"),
        ([{"name": "a", "queues": ["jobs"], "mode": "priority", "weights": {"jobs": 2}}], "django_sqs.E057", "mode 'priority'"),
        ([{"name": "a", "queues": ["jobs"], "weights": {"jobs": -1}}], "django_sqs.E057", "0 or more"),
        ([{"name": "a", "queues": ["jobs"], "weights": {"echo": 2}}], "django_sqs.E057", "does not serve: echo"),
        ([{"name": "a", "queues": ["jobs", "echo"], "weights": {"jobs": 0, "echo": 0}}], "django_sqs.E057", "weight 0"),
    ],
)
def test_sqs_workers_is_checked(settings, value, check_id, text):
    settings.SQS_WORKERS = value
    errors = check_settings()
    assert check_id in ids_of(errors), errors
    error = next(e for e in errors if e.id == check_id)
    assert text in error.msg and error.hint


def test_a_valid_sqs_workers_passes_the_checks(settings):
    settings.SQS_WORKERS = [
        {"name": "levels", "queues": list(PRIORITY), "mode": "priority", "threads": 4, "concurrency": 2},
        {"name": "small", "queues": ["jobs", "echo"], "mode": "weighted", "weights": {"jobs": 3, "echo": 0}},
    ]
    assert check_settings() == []


def test_sqs_status_shows_which_group_serves_a_queue(server, settings):
    settings.SQS_WORKERS = [{"name": "small", "queues": ["jobs", "echo"], "weights": {"jobs": 2}}]
    out = io.StringIO()
    call_command("sqs_status", "jobs", "echo", "work", stdout=out)
    text = out.getvalue()
    assert "small: weighted jobs=2,echo=1" in text
    assert "a worker process each: work" in text
    out = io.StringIO()
    call_command("sqs_status", "jobs", "work", "--json", stdout=out)
    rows = {row["queue"]: row["worker"] for row in json.loads(out.getvalue()) if row["queue"]}
    assert rows == {"jobs": "small", "work": None}


def test_a_group_of_too_many_queues_is_a_warning(settings):
    settings.SQS_WORKERS = [{"name": "everything", "queues": ["*"]}]
    assert len(registry.with_receivers()) > groups.MAX_QUEUES_PER_WORKER
    errors = check_settings()
    assert ids_of(errors) == ["django_sqs.W050"]
    assert "Split it" in errors[0].hint


@pytest.mark.slow
def test_the_many_queue_bench_produces_its_figures(tmp_path):
    """``bench/run.py --many --quick`` measures every figure beside its baseline (no timing
    is asserted: the figures come from the full run)."""
    import subprocess
    import sys

    from tests.processes import ROOT

    pytest.importorskip("psutil")
    out = tmp_path / "many.json"
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--many", "--quick", "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    results = json.loads(out.read_text())["results"]
    figures = [
        *(f"many_pickup_priority_plat_{x}_p50" for x in "abc"),
        *(f"many_pickup_weighted_wlat_{x}_p50" for x in "abc"),
        *(f"many_idle_rpm_weighted_widle_{x}" for x in "abc"),
        *(f"many_idle_rpm_priority_pidle_{x}" for x in "abc"),
        "many_ten_rate", "many_ten_rpm", "many_ten_tree_pss", "many_ten_worker_pss",
    ]
    for figure in figures:
        assert results[figure]["django_sqs"] and results[figure]["baseline"], figure
    assert results["many_ten_processes"] == {"django_sqs": [1], "baseline": [11]}  # one process against ten and their parent
    assert "Many queues in one worker" in result.stdout

