from django.core.management import call_command

from tests.receivers import calls, echo


def test_burst_drains(sqs):
    for i in range(3):
        echo(body=f"m{i}")
    call_command("runreceiver", "echo", "--burst")
    assert sorted(c["body"] for c in calls) == ["m0", "m1", "m2"]
