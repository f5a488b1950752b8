import django_sqs
from django_sqs.provisioning import queue_url


def test_send_receive_roundtrip(sqs):
    from tests.receivers import echo
    msg_id = echo(body="hello")
    assert msg_id
    url = queue_url(echo.registered_queue)
    assert url.endswith("/t__echo")
    got = sqs.receive_message(QueueUrl=url)["Messages"][0]
    assert got["Body"] == "hello"
    assert django_sqs.send("echo", body="x", suffix="big")
