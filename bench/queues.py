"""Queue names the benchmark's workers serve and ``bench/run.py`` drives (no imports:
the harness reads them before Django is set up)."""

#: The priority cases' queues, highest first (``runreceiver --priority A B C``).
PRIORITY_IDLE = ("pidle_a", "pidle_b", "pidle_c")
PRIORITY_LATENCY = ("plat_a", "plat_b", "plat_c")
PRIORITY_ORDER = ("order_a", "order_b", "order_c")
#: Many queues in one worker (issue 18): pick-up per weighted queue, the idle bill of a
#: priority and of a weighted worker, and ten queues for the memory and drain figures.
WEIGHTED_LATENCY = ("wlat_a", "wlat_b", "wlat_c")
WEIGHTED_IDLE = ("widle_a", "widle_b", "widle_c")
MANY = tuple(f"many{i}" for i in range(10))
#: Queues with a no-op receiver for the idle and SIGTERM cases, each with its own counts.
NOOP_QUEUES = ("idle", "idle2", "idle8", "term", "term2", "term8", *PRIORITY_IDLE, *WEIGHTED_IDLE, *MANY)
