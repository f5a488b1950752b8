"""Adversarial review of periodic work (issue 20): the ways a tick could be dropped, sent
twice or stop being recovered, each reproduced before its fix."""

import datetime as dt

import pytest

from django_sqs.periodic import claims, loop
from django_sqs.periodic.loop import Firer
from django_sqs.periodic.schedule import Schedule

pytestmark = pytest.mark.django_db(transaction=True)
UTC = dt.timezone.utc
T0 = dt.datetime(2026, 6, 1, 12, 0, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now


@pytest.fixture
def sent(monkeypatch):
    """The ticks the firing loop sends, without SQS: (schedule, tick) in order."""
    out = []

    def send_tick(schedule, at):
        out.append((schedule.name, at))
        return f"id-{len(out)}"

    monkeypatch.setattr(loop, "send_tick", send_tick)
    return out


def every_second(catch_up):
    return Schedule(name="fast", kind="queue", target="echo", every=dt.timedelta(seconds=1), catch_up=catch_up)


@pytest.mark.parametrize("catch_up", ["none", "last"])
def test_a_stalled_round_still_fires_every_tick_that_came_due_while_it_ran(sent, catch_up):
    # A running supervisor whose round comes 3.5 s late (a slow query, a loaded host) on a
    # 1-second schedule: the ticks that came due meanwhile were not missed by downtime, so
    # the catch-up policy does not apply to them ("every tick whose time has come while at
    # least one supervisor ran is sent").
    clock = Clock(T0 + dt.timedelta(seconds=0.5))
    firer = Firer([every_second(catch_up)], claimant="a", clock=clock)
    firer.round()
    clock.now = T0 + dt.timedelta(seconds=1.2)
    firer.round()
    clock.now = T0 + dt.timedelta(seconds=4.7)  # the stall
    firer.round()
    assert [t for _, t in sent] == [T0 + dt.timedelta(seconds=s) for s in (1, 2, 3, 4)]


def test_downtime_still_follows_the_catch_up_policy(sent):
    # The other side: ticks missed while no supervisor ran (the cursor comes from the
    # database at start) follow the policy; "none" drops them.
    row = claims.claim("fast", T0, "old")
    claims.mark_sent(row, "m")
    clock = Clock(T0 + dt.timedelta(seconds=30.5))
    Firer([every_second("none")], claimant="new", clock=clock).round()
    assert [t for _, t in sent] == [T0 + dt.timedelta(seconds=30)]


def test_a_pause_longer_than_the_lease_counts_as_downtime(sent):
    clock = Clock(T0 + dt.timedelta(seconds=0.5))
    firer = Firer([every_second("none")], claimant="a", clock=clock, lease=dt.timedelta(seconds=10))
    firer.round()
    clock.now = T0 + dt.timedelta(seconds=30.5)  # suspended for 30 s, longer than the lease
    firer.round()
    assert [t for _, t in sent] == [T0 + dt.timedelta(seconds=30)]


def every_minute():
    return Schedule(name="minutely", kind="queue", target="echo", every=dt.timedelta(minutes=1))


def test_unsent_claims_of_a_removed_schedule_do_not_block_the_recovery_of_the_others(sent):
    # A schedule renamed or removed (or declared only by a newer release) left more unsent
    # claims than one scan reads, all older than a live schedule's stuck claim.
    old = dt.datetime.now(UTC) - dt.timedelta(seconds=120)
    for i in range(60):
        claims.claim("removed-schedule", T0 - dt.timedelta(hours=1, minutes=i), "dead-host:1")
    stuck = claims.claim("minutely", T0, "dead-host:1")
    claims.model().objects.update(claimed_at=old)
    Firer([every_minute()], claimant="a", clock=Clock(T0), lease=dt.timedelta(seconds=60)).recover()
    assert sent == [("minutely", T0)]
    stuck.refresh_from_db()
    assert stuck.sent_at is not None and stuck.claims == 2


@pytest.mark.parametrize("a_skew, b_skew", [(0, 90), (-90, 0)])
def test_clock_skew_between_hosts_does_not_hand_a_fresh_claim_to_another(sent, monkeypatch, a_skew, b_skew):
    # Host A claims a tick and is still sending it; host B's clock is 90 s ahead of A's
    # (or A's behind B's), more than the lease. The lease is measured on one clock, the
    # database's: B must not take the claim over and send the tick a second time.
    from django.utils import timezone

    real_now = timezone.now

    def skewed(seconds):
        monkeypatch.setattr(timezone, "now", lambda: real_now() + dt.timedelta(seconds=seconds))

    skewed(a_skew)
    row = claims.claim("minutely", T0, "host-a:1")
    assert row is not None
    skewed(b_skew)
    Firer([every_minute()], claimant="host-b:1", clock=Clock(T0), lease=dt.timedelta(seconds=60)).recover()
    assert sent == []
    row.refresh_from_db()
    assert row.claimed_by == "host-a:1" and row.claims == 1


@pytest.mark.parametrize(
    "entry, error_id, words",
    [
        ({"every": float("nan")}, "django_sqs.E071", "every"),
        ({"every": 10**15}, "django_sqs.E071", "every"),
        ({"every": "30"}, "django_sqs.E071", "every"),
        ({"every": True}, "django_sqs.E071", "every"),
        ({"cron": "0 3 * * *", "args": 5}, "django_sqs.E070", "args"),
        ({"cron": "0 3 * * *", "kwargs": ["days", 3]}, "django_sqs.E070", "kwargs"),
        ({"cron": "0 3 * * *", "catch_up_limit": True}, "django_sqs.E071", "catch_up_limit"),
    ],
)
def test_a_bad_settings_entry_is_a_check_error_not_a_crash(settings, entry, error_id, words):
    # Each of these raised from inside the system checks (TypeError, ValueError,
    # OverflowError), so manage.py crashed with a traceback instead of naming the entry,
    # or was accepted and failed at every tick.
    from django_sqs.periodic.checks import check_schedules

    settings.SQS_SCHEDULES = {"bad": {"queue": "echo", **entry}}
    errors = [e for e in check_schedules() if e.id == error_id]
    assert errors and all(e.hint for e in errors), [(e.id, e.msg) for e in check_schedules()]
    assert words in errors[0].msg and "bad" in errors[0].msg + str(errors[0].obj)


@pytest.mark.parametrize("options", [{"args": 5}, {"kwargs": ["days", 3]}])
def test_periodic_with_bad_arguments_raises_configuration_error(options):
    from django_sqs.exceptions import ConfigurationError
    from django_sqs.periodic import periodic

    def job():
        pass

    with pytest.raises(ConfigurationError, match="args must be a list"):
        periodic(cron="0 3 * * *", name="bad-args", **options)(job)


def test_the_default_lease_outlasts_the_longest_send():
    # With a 60 s lease and SQS hanging, a send (4 attempts of 5 s connect + 35 s read)
    # outlasted the lease: another supervisor took the claim over and the tick went twice.
    from django_sqs.periodic import config

    assert config.lease().total_seconds() > config.longest_send()


@pytest.mark.parametrize("lease, error_id", [(60, "django_sqs.W071"), (0, "django_sqs.E079"), ("60", "django_sqs.E079")])
def test_a_lease_shorter_than_a_send_or_not_a_duration_is_reported(settings, lease, error_id):
    from django_sqs.periodic.checks import check_schedules

    settings.SQS_SCHEDULES = {"ok": {"queue": "echo", "cron": "0 3 * * *"}}
    settings.SQS_SCHEDULE_LEASE = lease
    found = [e for e in check_schedules() if e.id == error_id]
    assert found and found[0].hint and "SQS_SCHEDULE_LEASE" in found[0].msg


def test_the_default_lease_passes_the_checks(settings):
    from django_sqs.periodic.checks import check_schedules

    settings.SQS_SCHEDULES = {"ok": {"queue": "echo", "cron": "0 3 * * *"}}
    assert check_schedules() == []


def test_a_database_blip_when_recording_a_send_does_not_send_the_tick_again(sent, monkeypatch):
    # The tick went to SQS, then the update that records it failed once (a dropped
    # connection): the row stayed unsent, and after the lease another supervisor sent the
    # tick a second time.
    from django.db import OperationalError

    real = claims.mark_sent
    failures = [OperationalError("server closed the connection unexpectedly")]

    def flaky(row, message_id):
        if failures:
            raise failures.pop()
        real(row, message_id)

    monkeypatch.setattr(claims, "mark_sent", flaky)
    monkeypatch.setattr(loop, "RECORD_PAUSE", 0.01, raising=False)
    clock = Clock(T0 + dt.timedelta(seconds=1))
    a = Firer([every_minute()], claimant="a", clock=clock, lease=dt.timedelta(seconds=60))
    a.cursors["minutely"] = T0 - dt.timedelta(seconds=1)
    try:
        a.round()
    except OperationalError:
        pass  # what run() does: log it, try again next round
    claims.model().objects.update(claimed_at=dt.datetime.now(UTC) - dt.timedelta(seconds=120))  # the lease passes
    Firer([every_minute()], claimant="b", clock=clock, lease=dt.timedelta(seconds=60)).recover()
    assert sent == [("minutely", T0)]
    assert claims.model().objects.get().sent_at is not None


def test_a_restarted_cluster_catches_up_all_ticks_once(sent):
    # Refuted: two supervisors restarted together after ten minutes of downtime, with
    # catch_up="all", each compute the same missed ticks; the claims give each to one.
    schedule = Schedule(name="minutely", kind="queue", target="echo", every=dt.timedelta(minutes=1), catch_up="all")
    claims.mark_sent(claims.claim("minutely", T0, "old"), "m")
    clock = Clock(T0 + dt.timedelta(minutes=10, seconds=1))
    for claimant in ("a", "b"):
        Firer([schedule], claimant=claimant, clock=clock).round()
    for claimant in ("c", "d"):  # restarted again at once: nothing more
        Firer([schedule], claimant=claimant, clock=clock).round()
    assert [t for _, t in sent] == [T0 + dt.timedelta(minutes=m) for m in range(1, 11)]


@pytest.mark.parametrize("entry", [{"kwargs": {"when": dt.date(2026, 1, 1)}}, {"args": [object()]}])
def test_a_task_schedule_whose_arguments_cannot_be_sent_is_a_check_error(settings, entry):
    # Passed the checks, then every tick failed to send (logged, the row left unsent and
    # tried again after each lease, for ever).
    from django_sqs.periodic.checks import check_schedules
    from tests.task_helpers import use_backend

    use_backend(settings)
    settings.SQS_SCHEDULES = {"bad": {"task": "tests.tasks.noop_task", "cron": "0 3 * * *", **entry}}
    errors = [e for e in check_schedules() if e.id == "django_sqs.E073"]
    assert errors and "JSON" in errors[0].msg, [(e.id, e.msg) for e in check_schedules()]


def test_a_task_schedule_with_json_arguments_passes(settings):
    from django_sqs.periodic.checks import check_schedules
    from tests.task_helpers import use_backend

    use_backend(settings)
    settings.SQS_SCHEDULES = {"ok": {"task": "tests.tasks.noop_task", "cron": "0 3 * * *", "kwargs": {"days": 3}}}
    assert check_schedules() == []


def test_a_stop_request_ends_the_round_after_the_tick_in_hand(monkeypatch):
    # SIGTERM during a catch-up of ten ticks: request_stop() promises to stop "after the
    # tick in hand", but the round went on claiming and sending all ten, while runreceiver
    # gives the firing process ten seconds before SIGKILL (which, between a send and its
    # record, sends a tick twice).
    schedule = Schedule(name="minutely", kind="queue", target="echo", every=dt.timedelta(minutes=1), catch_up="all")
    claims.mark_sent(claims.claim("minutely", T0, "old"), "m")
    firer = Firer([schedule], claimant="a", clock=Clock(T0 + dt.timedelta(minutes=10, seconds=1)))
    sent = []

    def send_tick(schedule, at):
        sent.append(at)
        firer.request_stop()  # the SIGTERM arrives during the first send
        return "id"

    monkeypatch.setattr(loop, "send_tick", send_tick)
    firer.round()
    assert sent == [T0 + dt.timedelta(minutes=1)]
    assert claims.model().objects.count() == 2  # the old row and the one tick in hand
    # The rest is caught up by whoever fires next, from the last claimed tick.
    later = []
    monkeypatch.setattr(loop, "send_tick", lambda schedule, at: later.append(at) or "id")
    Firer([schedule], claimant="b", clock=Clock(T0 + dt.timedelta(minutes=10, seconds=1))).round()
    assert later == [T0 + dt.timedelta(minutes=m) for m in range(2, 11)]


@pytest.mark.parametrize(
    "unix, expected",
    [
        ("0 9 * jan-mar mon", "cron(0 9 ? JAN-MAR MON *)"),  # AWS writes the names in capitals
        ("0 */6 * jan,jul *", "cron(0 0/6 * JAN,JUL ? *)"),
        ("*/15 */2 * * *", "cron(0/15 0/2 * * ? *)"),
        ("0 9 * * 1,3-5", "cron(0 9 ? * 2,4-6 *)"),
        ("0 0 LW * *", "cron(0 0 LW * ? *)"),
    ],
)
def test_more_unix_cron_to_aws_cron(unix, expected):
    from django_sqs.periodic.aws import aws_expression

    assert aws_expression(Schedule("s", "queue", "echo", cron=unix)) == expected


@pytest.mark.parametrize(
    "cron, start, expected",
    [
        # Fall back (Europe/Paris, 2026-10-25): a fixed time once, a wildcard hour twice.
        ("30 2 * * *", dt.datetime(2026, 10, 24, 23, 0, tzinfo=UTC), ["02:30CEST"]),
        ("0 * * * *", dt.datetime(2026, 10, 24, 23, 0, tzinfo=UTC), ["02:00CEST", "02:00CET", "03:00CET"]),
        # Spring forward (2026-03-29): the skipped 02:30 fires at 03:00, once.
        ("30 2 * * *", dt.datetime(2026, 3, 28, 23, 0, tzinfo=UTC), ["03:00CEST"]),
        ("0 * * * *", dt.datetime(2026, 3, 28, 23, 0, tzinfo=UTC), ["01:00CET", "03:00CEST", "04:00CEST"]),
    ],
)
def test_the_firing_loop_through_a_clock_change(sent, cron, start, expected):
    # Refuted: the loop itself (cursor, rounds every 7 s) across the night the clocks
    # change fires what the arithmetic says, each tick once.
    schedule = Schedule(name="paris", kind="queue", target="echo", cron=cron, timezone="Europe/Paris")
    clock = Clock(start + dt.timedelta(seconds=1))
    firer = Firer([schedule], claimant="a", clock=clock)
    while clock.now < start + dt.timedelta(hours=3, minutes=30):
        firer.round()
        clock.now += dt.timedelta(seconds=7)
    assert [t.astimezone(schedule.tz).strftime("%H:%M%Z") for _, t in sent] == expected
