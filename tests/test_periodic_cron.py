"""Next-tick arithmetic with a frozen clock: DST both ways, month ends, the catch-up
policies after hours of downtime (django_sqs.periodic.cron)."""

import datetime as dt

import pytest

from django_sqs.periodic.cron import cron_problem, due_ticks, next_ticks
from django_sqs.periodic.schedule import Schedule

UTC = dt.timezone.utc


def utc(*args):
    return dt.datetime(*args, tzinfo=UTC)


def cron(expr, tz="UTC", **kw):
    return Schedule(name="s", kind="queue", target="echo", cron=expr, timezone=tz, **kw)


def every(seconds, **kw):
    return Schedule(name="s", kind="queue", target="echo", every=dt.timedelta(seconds=seconds), **kw)


def test_daily_in_local_time():
    # 03:00 Paris is 02:00 UTC in winter, 01:00 UTC in summer.
    s = cron("0 3 * * *", "Europe/Paris")
    assert next_ticks(s, utc(2026, 1, 10, 12), 2) == [utc(2026, 1, 11, 2), utc(2026, 1, 12, 2)]
    assert next_ticks(s, utc(2026, 7, 10, 12), 1) == [utc(2026, 7, 11, 1)]


def test_spring_forward_skipped_hour_fires_once_just_after_the_gap():
    # 2026-03-29 in Paris: 02:00 CET jumps to 03:00 CEST; 02:30 does not exist that day.
    s = cron("30 2 * * *", "Europe/Paris")
    ticks = next_ticks(s, utc(2026, 3, 28, 12), 3)
    assert ticks == [utc(2026, 3, 29, 1, 0), utc(2026, 3, 30, 0, 30), utc(2026, 3, 31, 0, 30)]
    assert ticks[0].astimezone(s.tz).strftime("%H:%M %Z") == "03:00 CEST"


def test_fall_back_repeated_hour_fixed_time_fires_once():
    # 2026-10-25 in Paris: 03:00 CEST goes back to 02:00 CET; 02:30 happens twice.
    s = cron("30 2 * * *", "Europe/Paris")
    ticks = next_ticks(s, utc(2026, 10, 24, 12), 2)
    assert ticks == [utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)]
    assert ticks[0].astimezone(s.tz).strftime("%H:%M %Z") == "02:30 CEST"


def test_fall_back_wildcard_hour_fires_in_both_passes():
    s = cron("*/30 * * * *", "Europe/Paris")
    ticks = next_ticks(s, utc(2026, 10, 24, 23, 45), 5)
    # 02:00 CEST, 02:30 CEST, 02:00 CET, 02:30 CET, 03:00 CET: five distinct instants.
    assert ticks == [utc(2026, 10, 25, 0, 0), utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 1, 0),
                     utc(2026, 10, 25, 1, 30), utc(2026, 10, 25, 2, 0)]
    assert len(set(ticks)) == 5


def test_starting_inside_the_repeated_hour_does_not_go_back():
    s = cron("*/30 * * * *", "Europe/Paris")
    after = utc(2026, 10, 25, 1, 10)  # 02:10 CET, the second pass
    assert next_ticks(s, after, 2) == [utc(2026, 10, 25, 1, 30), utc(2026, 10, 25, 2, 0)]


def test_month_ends():
    s = cron("0 0 31 * *")
    assert next_ticks(s, utc(2026, 1, 31, 0, 0, 1), 3) == [utc(2026, 3, 31), utc(2026, 5, 31), utc(2026, 7, 31)]
    leap = cron("0 12 29 2 *")
    assert next_ticks(leap, utc(2026, 1, 1), 1) == [utc(2028, 2, 29, 12)]
    last_day = cron("0 0 1 * *")  # "first of the month" after the last day of each month
    assert next_ticks(last_day, utc(2026, 2, 28, 23, 59), 2) == [utc(2026, 3, 1), utc(2026, 4, 1)]


def test_every_is_anchored_on_the_epoch_so_all_supervisors_agree():
    s = every(7)
    ticks = next_ticks(s, utc(2026, 5, 1, 0, 0, 0), 3)
    assert all(int(t.timestamp()) % 7 == 0 for t in ticks)
    assert [b - a for a, b in zip(ticks, ticks[1:], strict=False)] == [dt.timedelta(seconds=7)] * 2
    assert next_ticks(s, ticks[0], 1) == [ticks[1]]  # strictly after


@pytest.mark.parametrize(
    "expr, problem",
    [("0 3 * *", "4 fields"), ("61 * * * *", "minute"), ("0 3 * * * *", "6 fields"), ("@daily", None), ("0 3 * * 1-5", None), ("0 0 L * *", None), ("0 9 * * 1#2", None)],
)
def test_cron_problems(expr, problem):
    found = cron_problem(expr)
    assert (found is None) if problem is None else (problem.lower() in found.lower())


# -- catch-up after an outage of hours ---------------------------------------------------
OUTAGE_START = utc(2026, 6, 1, 0, 30)  # everything up to here was fired
BACK = utc(2026, 6, 1, 5, 20)  # five hourly ticks (01:00 … 05:00) missed


@pytest.mark.parametrize(
    "policy, expected",
    [
        ("none", []),
        ("last", [utc(2026, 6, 1, 5)]),
        ("all", [utc(2026, 6, 1, h) for h in range(1, 6)]),
    ],
)
def test_catch_up_policies_after_hours(policy, expected):
    assert due_ticks(cron("0 * * * *", catch_up=policy), OUTAGE_START, BACK) == expected


def test_catch_up_all_is_bounded_to_the_most_recent():
    s = cron("0 * * * *", catch_up="all", catch_up_limit=2)
    assert due_ticks(s, OUTAGE_START, BACK) == [utc(2026, 6, 1, 4), utc(2026, 6, 1, 5)]
    fast = every(1, catch_up="all", catch_up_limit=100)
    ticks = due_ticks(fast, OUTAGE_START, BACK)
    assert len(ticks) == 100 and ticks[-1] == BACK


@pytest.mark.parametrize("policy", ["none", "last", "all"])
def test_an_on_time_tick_fires_whatever_the_policy(policy):
    s = cron("0 * * * *", catch_up=policy)
    now = utc(2026, 6, 1, 5, 0, 3)  # 3 s after the 05:00 tick
    assert due_ticks(s, utc(2026, 6, 1, 4, 59), now) == [utc(2026, 6, 1, 5)]
    assert due_ticks(s, now, now + dt.timedelta(seconds=1)) == []  # nothing twice


def test_last_policy_with_on_time_tick_after_outage():
    s = every(3600, catch_up="last")
    now = utc(2026, 6, 1, 5, 0, 2)
    assert due_ticks(s, OUTAGE_START, now) == [utc(2026, 6, 1, 4), utc(2026, 6, 1, 5)]
