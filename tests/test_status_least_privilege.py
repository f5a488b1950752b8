"""sqs_status under the least-privilege worker policy, which grants no sqs:ListQueues: the
registered queues are reported, and the queues it could not list are said to be missing."""

import io
import json

import botocore.exceptions
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from django_sqs import send
from django_sqs.client import get_client


def refuse(code):
    """Make ListQueues fail on the process's client as IAM refuses it; other actions go
    to the server as usual."""

    def handler(**kwargs):
        raise botocore.exceptions.ClientError(
            {"Error": {"Code": code, "Message": "User: arn:aws:sts::123456789012:assumed-role/worker is not authorized"}},
            "ListQueues",
        )

    get_client().meta.events.register("before-call.sqs.ListQueues", handler)


def run(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("sqs_status", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_without_list_queues_the_registered_queues_are_shown_and_the_gap_is_said(server):
    send("echo", body="a")
    get_client().create_queue(QueueName="t__renamed_long_ago")
    refuse("AccessDenied")
    out, err = run()
    assert "t__echo " in out and "1" in out.split("t__echo ")[1].split()[0]
    assert "t__renamed_long_ago" not in out
    assert "not listed: ListQueues was refused (AccessDenied)" in err
    assert "sqs:ListQueues" in err
    assert "arn:aws" not in err  # AWS's message (account, role) is not repeated

    out, err = run("--json")
    rows = json.loads(out)  # stdout stays valid JSON
    assert "t__echo" in [r["full_name"] for r in rows]
    assert all(r["queue"] is not None for r in rows)
    assert "ListQueues was refused" in err


def test_the_json_protocol_error_code_is_recognised_too(server):
    refuse("AccessDeniedException")
    out, err = run()
    assert "QUEUE" in out and "ListQueues was refused (AccessDeniedException)" in err


def test_other_list_queues_failures_still_fail_the_command(server):
    refuse("InternalError")
    with pytest.raises(CommandError, match="ListQueues"):
        run()
