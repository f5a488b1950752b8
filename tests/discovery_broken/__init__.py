"""An installed app whose receivers module registers a queue, then fails (test_autodiscovery)."""
