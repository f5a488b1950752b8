"""``runreceiver --threads`` and ``--priority`` in-process (issue 11, SPEC §10), against the
real local SQS server: overlap, async receivers counted against N, connections, strict
priority order, FIFO groups across threads, --message-limit across threads."""

from __future__ import annotations

import threading

import pytest
from django.core.management import call_command

from django_sqs import send_many
from django_sqs.client import get_client
from tests import receivers
from tests.processes import wait_until
from tests.queue_helpers import counts, url_of
from tests.receivers import calls

PRIORITY = ("prio_high", "prio_mid", "prio_low")


def entries(phase, queue=None, source=None):
    source = calls if source is None else source
    return [c for c in source if c.get("phase") == phase and (queue is None or c["queue"] == queue)]


def max_overlap(source=None) -> int:
    """The most receivers that ran at the same instant (from start/end times)."""
    events = [(c["t"], 1) for c in entries("start", source=source)] + [(c["t"], -1) for c in entries("end", source=source)]
    running = most = 0
    for _, step in sorted(events, key=lambda e: (e[0], e[1])):
        running += step
        most = max(most, running)
    return most


def inversions(starts: list[dict], ranks: dict[str, int]) -> int:
    """Pairs where a lower-priority message started before a higher-priority one."""
    order = [ranks[c["queue"]] for c in sorted(starts, key=lambda c: c["t"])]
    return sum(1 for i, a in enumerate(order) for b in order[i + 1 :] if b < a)


def test_threads_run_receivers_at_once(server):
    send_many("work", [{"sleep": 1, "n": i} for i in range(8)])
    call_command("runreceiver", "work", "--threads", "4", "--burst")
    assert len(entries("end")) == 8
    assert max_overlap() == 4
    assert len({c["thread"] for c in entries("start")}) == 4
    assert counts("t__work") == (0, 0)


def test_async_receivers_count_against_threads(server):
    send_many("work_async", [{"sleep": 1, "n": i} for i in range(6)])
    call_command("runreceiver", "work_async", "--threads", "2", "--burst")
    assert len(entries("end")) == 6
    assert max_overlap() == 2
    assert len({c["loop"] for c in entries("end")}) == 1  # one event loop per process


@pytest.mark.django_db(transaction=True)
def test_a_handler_threads_connections_are_closed_when_it_ends(server):
    receivers.connections_used.clear()
    send_many("work", [{"action": "db", "sleep": 0.3, "n": i} for i in range(6)])
    call_command("runreceiver", "work", "--threads", "3", "--burst")
    main = threading.get_ident()
    used = [(thread, conn) for thread, conn in receivers.connections_used if thread != main]
    assert len({thread for thread, _ in used}) >= 2, receivers.connections_used
    assert all(conn.connection is None for _, conn in used), "a handler thread left its connection open"
    receivers.connections_used.clear()


def test_priority_starts_strictly_by_queue(server):
    for name in reversed(PRIORITY):  # the lowest first: arrival order must not matter
        send_many(name, [{"n": i} for i in range(12)])
    call_command("runreceiver", *PRIORITY, "--priority", "--burst")
    starts = entries("start")
    assert len(starts) == 36
    assert inversions(starts, {f"t__{n}": r for r, n in enumerate(PRIORITY)}) == 0
    assert [c["queue"] for c in starts] == [f"t__{n}" for n in PRIORITY for _ in range(12)]


def test_priority_does_not_poll_lower_queues_while_the_top_has_a_backlog(server):
    send_many("prio_high", [{"sleep": 0.05, "n": i} for i in range(30)])
    send_many("prio_mid", [{"n": i} for i in range(5)])
    send_many("prio_low", [{"n": i} for i in range(5)])
    names = {url_of(f"t__{n}"): n for n in PRIORITY}
    receives: list[tuple[str, int]] = []

    def record(http_response, parsed, model, **kwargs):
        receives.append((kwargs["context"].get("queue_url", ""), len(parsed.get("Messages", []))))

    def remember_url(params, context, **kwargs):
        context["queue_url"] = params["QueueUrl"]

    client = get_client()
    client.meta.events.register("provide-client-params.sqs.ReceiveMessage", remember_url)
    client.meta.events.register("after-call.sqs.ReceiveMessage", record)
    try:
        call_command("runreceiver", *PRIORITY, "--priority", "--threads", "2", "--burst")
    finally:
        client.meta.events.unregister("provide-client-params.sqs.ReceiveMessage", remember_url)
        client.meta.events.unregister("after-call.sqs.ReceiveMessage", record)
    assert len(entries("end")) == 40
    polled = [(names[url], n) for url, n in receives]
    last_high = max(i for i, (name, n) in enumerate(polled) if name == "prio_high" and n)
    early = [name for name, _ in polled[:last_high] if name != "prio_high"]
    assert not early, f"lower queues polled while the top had a backlog: {polled}"


def test_fifo_groups_run_in_order_one_at_a_time_and_in_parallel(server):
    for group in "abc":
        send_many("groups.fifo", [{"sleep": 0.4, "n": i, "g": group} for i in range(4)], group_id=group)
    call_command("runreceiver", "groups.fifo", "--threads", "3", "--burst")
    check_fifo_groups(calls)


def check_fifo_groups(source):
    assert len(entries("end", source=source)) == 12
    for group in "abc":
        mine = [c for c in source if c.get("group") == group]
        starts = [c for c in mine if c["phase"] == "start"]
        assert [c["body"]["n"] for c in sorted(starts, key=lambda c: c["t"])] == [0, 1, 2, 3]
        assert max_overlap(mine) == 1, f"group {group} ran two messages at once"
    assert max_overlap(source) >= 2, "different groups did not run in parallel"


def test_message_limit_counts_across_threads(server):
    send_many("work", [{"sleep": 0.3, "n": i} for i in range(12)])
    call_command("runreceiver", "work", "--threads", "4", "--burst", "--message-limit", "5")
    assert len(entries("start")) == 5
    assert len(entries("end")) == 5
    # Nothing left hidden: what was received and not started was given back.
    wait_until(lambda: counts("t__work") == (7, 0), 5, message=f"7 visible, 0 in flight (now {counts('t__work')})")
