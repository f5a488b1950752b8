"""A signal listener that raises: the worker goes on, and the failure is logged once
(Django's send_robust logs it; django_sqs does not log it a second time)."""

import logging

from django.core.management import call_command

from django_sqs import signals
from tests.receivers import calls, echo


class ListenerBroke(Exception):
    pass


def broken_listener(sender, **kwargs):
    raise ListenerBroke("listener bug")


def test_a_raising_listener_is_logged_once_and_the_message_is_handled(sqs, caplog):
    signals.message_handled.connect(broken_listener)
    try:
        echo(body="m1")
        with caplog.at_level(logging.DEBUG):
            call_command("runreceiver", "echo", "--burst")
    finally:
        signals.message_handled.disconnect(broken_listener)
    assert [c["body"] for c in calls] == ["m1"]
    failures = [r for r in caplog.records if r.exc_info and isinstance(r.exc_info[1], ListenerBroke)]
    assert len(failures) == 1, [(r.name, r.getMessage()) for r in failures]
    assert failures[0].levelno == logging.ERROR and "broken_listener" in failures[0].getMessage()
    mentions = [r for r in caplog.records if "listener bug" in r.getMessage()]
    assert len(mentions) <= 1
