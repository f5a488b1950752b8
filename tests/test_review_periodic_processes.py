"""Adversarial review of periodic work at process level (PostgreSQL, the local server):
a firing process that hangs is killed and replaced, and its tick sent."""

import datetime as dt

import pytest

from django_sqs.periodic import claims
from tests.processes import wait_until
from tests.test_periodic_processes import EVERY_SECOND, drain, postgres, stop, supervisor

pytestmark = pytest.mark.django_db(transaction=True)


@postgres
def test_a_hung_firing_process_is_killed_and_replaced_and_its_tick_sent(server, tmp_path):
    # One supervisor only: its firing process hangs after a claim (a query or a send that
    # never returns). Nothing else fires the schedule: unless runreceiver notices the
    # silence, the schedule stops for good, silently.
    worker = supervisor(
        tmp_path, server, EVERY_SECOND, DJANGO_SQS_PERIODIC_FAULT="hang-after-claim",
        DJANGO_SQS_PERIODIC_FAULT_ONCE=str(tmp_path / "hung-once"), DJANGO_SQS_TEST_SCHEDULE_LEASE="3",
    ).start()
    try:
        worker.wait_for(lambda: "fault injection: hanging after claiming" in worker.log(), timeout=60,
                        message="the firing process hangs after its claim")
        stuck = claims.model().objects.order_by("tick").first()
        # Lease 3 s + the 60 s margin, then the restart and the take-over: generously bounded.
        wait_until(lambda: claims.model().objects.filter(pk=stuck.pk, sent_at__isnull=False).exists(),
                   timeout=150, message="the stuck tick sent by the replacement", log=worker.log)
        wait_until(lambda: claims.model().objects.filter(tick__gt=stuck.tick + dt.timedelta(seconds=70)).exists(),
                   timeout=30, message="later ticks", log=worker.log)
        log = worker.log()
        assert "hung (silent for" in log and "killing it" in log and "signal SIGKILL" in log
        stop([worker])
    finally:
        worker.stop()
    stuck.refresh_from_db()
    assert stuck.claims == 2 and stuck.sent_at is not None
    assert [m.tick.at for m in drain()].count(stuck.tick) == 1


@postgres
def test_a_claimant_killed_between_send_and_record_has_its_tick_sent_twice(server, tmp_path):
    # What the guarantee says, and no more: at least one delivery. The tick went to SQS, the
    # firing process died before its row said so; after the lease, the replacement takes
    # the claim over and sends the tick again (a receiver sees it twice: once_per_tick).
    worker = supervisor(
        tmp_path, server, EVERY_SECOND, DJANGO_SQS_PERIODIC_FAULT="kill-after-send",
        DJANGO_SQS_PERIODIC_FAULT_ONCE=str(tmp_path / "killed-once"), DJANGO_SQS_TEST_SCHEDULE_LEASE="3",
    ).start()
    try:
        worker.wait_for(lambda: "fault injection: killed after sending" in worker.log(), timeout=60,
                        message="the firing process killed after its send")
        stuck = claims.model().objects.order_by("tick").first()
        wait_until(lambda: claims.model().objects.filter(pk=stuck.pk, sent_at__isnull=False).exists(),
                   timeout=60, message="the tick taken over and sent", log=worker.log)
        stop([worker])
    finally:
        worker.stop()
    stuck.refresh_from_db()
    assert stuck.claims == 2
    ticks = [m.tick.at for m in drain()]
    assert ticks.count(stuck.tick) == 2
    # Every other tick once.
    assert all(ticks.count(t) == 1 for t in set(ticks) - {stuck.tick})
