"""SIGKILL a worker subprocess right after a given step, to test what a kill between two
steps leaves (``DJANGO_SQS_TEST_KILL_AFTER="module:attribute.path"``, read by
tests/receivers.py at start-up). The first call of the step kills; the kill is recorded in
DJANGO_SQS_TEST_RECORD first (``{"phase": "killed after", ...}``)."""

from __future__ import annotations

import functools
import json
import os
import signal

from django.utils.module_loading import import_string


def install(spec: str) -> None:
    module_path, _, attribute = spec.partition(":")
    owner_path, _, name = f"{module_path}.{attribute}".rpartition(".")
    owner = import_string(owner_path) if "." in attribute else __import__(module_path, fromlist=["_"])
    step = getattr(owner, name)

    @functools.wraps(step)
    def then_killed(*args, **kwargs):
        value = step(*args, **kwargs)
        with open(os.environ["DJANGO_SQS_TEST_RECORD"], "a") as f:
            f.write(json.dumps({"phase": "killed after", "step": spec, "pid": os.getpid()}) + "\n")
        os.kill(os.getpid(), signal.SIGKILL)
        return value

    setattr(owner, name, then_killed)
