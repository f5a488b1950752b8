"""Queue names the benchmark's workers serve and ``bench/run.py`` drives (no imports:
the harness reads them before Django is set up)."""

#: The priority cases' queues, highest first (``runreceiver --priority A B C``).
PRIORITY_IDLE = ("pidle_a", "pidle_b", "pidle_c")
PRIORITY_LATENCY = ("plat_a", "plat_b", "plat_c")
PRIORITY_ORDER = ("order_a", "order_b", "order_c")
#: Queues with a no-op receiver for the idle and SIGTERM cases, each with its own counts.
NOOP_QUEUES = ("idle", "idle2", "idle8", "term", "term2", "term8", *PRIORITY_IDLE)
