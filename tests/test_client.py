"""The boto3 factory: session and credentials, region, endpoint, retries, user agent,
one client per process and thread, dropped when a setting changes."""

import logging
import os
import threading

import botocore.config
import botocore.exceptions
import pytest
from django.test import override_settings

import django_sqs
from django_sqs import client as client_module
from django_sqs import register, send
from django_sqs.client import get_client, is_transient, make_session, wrap_errors
from django_sqs.exceptions import SQSRequestError


def credentials_of(sqs_client):
    return sqs_client._request_signer._credentials.get_frozen_credentials()


def test_client_is_reused_until_reset():
    # (No client at start-up: see test_conf.test_django_setup_makes_no_aws_request_and_no_client.)
    first = get_client()
    assert get_client() is first
    client_module.reset()
    assert get_client() is not first


def test_explicit_credentials_are_used_when_set(settings):
    settings.AWS_ACCESS_KEY_ID = "AKIAEXPLICIT"
    settings.AWS_SECRET_ACCESS_KEY = "explicit-secret"
    settings.AWS_SESSION_TOKEN = "explicit-token"
    creds = credentials_of(get_client())
    assert (creds.access_key, creds.secret_key, creds.token) == ("AKIAEXPLICIT", "explicit-secret", "explicit-token")


def test_explicit_credentials_without_a_session_token(settings, monkeypatch):
    monkeypatch.delenv("AWS_SESSION_TOKEN")
    settings.AWS_ACCESS_KEY_ID = "AKIAEXPLICIT"
    settings.AWS_SECRET_ACCESS_KEY = "explicit-secret"
    creds = credentials_of(get_client())
    assert creds.access_key == "AKIAEXPLICIT" and creds.token is None


def test_default_chain_when_no_credentials_are_set(monkeypatch):
    # conftest puts fake credentials in the environment: boto3's chain finds them there.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAFROMENV")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
    session = make_session()
    assert session.get_credentials().method == "env"
    assert credentials_of(get_client()).access_key == "AKIAFROMENV"


def test_default_chain_reads_a_shared_credentials_file(monkeypatch, tmp_path):
    path = tmp_path / "credentials"
    path.write_text("[default]\naws_access_key_id = AKIAFROMFILE\naws_secret_access_key = file-secret\n")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(path))
    assert credentials_of(get_client()).access_key == "AKIAFROMFILE"


def test_region_from_the_setting(settings):
    settings.SQS_REGION = "eu-central-1"
    assert get_client().meta.region_name == "eu-central-1"


def test_region_from_boto3_default_when_the_setting_is_unset(settings, monkeypatch):
    del settings.SQS_REGION
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-southeast-2")
    assert get_client().meta.region_name == "ap-southeast-2"


def test_region_defaults_to_us_east_1(settings, monkeypatch):
    del settings.SQS_REGION
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    monkeypatch.delenv("AWS_REGION", raising=False)
    assert get_client().meta.region_name == "us-east-1"


def test_endpoint_from_the_setting(settings):
    settings.SQS_ENDPOINT_URL = "http://127.0.0.1:9324"
    assert get_client().meta.endpoint_url == "http://127.0.0.1:9324"


def test_default_endpoint_is_aws(settings):
    settings.SQS_ENDPOINT_URL = None
    settings.SQS_REGION = "eu-west-1"
    assert "eu-west-1" in get_client().meta.endpoint_url
    assert "amazonaws.com" in get_client().meta.endpoint_url


def test_standard_retry_mode():
    retries = get_client().meta.config.retries
    assert retries["mode"] == "standard"
    assert retries["total_max_attempts"] == 4


def test_user_agent_names_the_app(sqs):
    seen = []
    sqs.meta.events.register("before-sign.sqs.*", lambda request, **kw: seen.append(request.headers["User-Agent"]))
    sqs.list_queues()
    (agent,) = seen
    agent = agent.decode() if isinstance(agent, bytes) else agent
    assert f"django-sqs/{django_sqs.__version__}" in agent


def test_a_forked_child_builds_its_own_client():
    # A real fork: the child must not use the parent's client (its connection pool).
    parent = get_client()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report whether it got a new client, whatever happens
        try:
            child = get_client()
            ok = child is not parent and get_client() is child
            os.write(write, b"new" if ok else b"same")
        finally:
            os._exit(0)
    os.close(write)
    answer = os.read(read, 10)
    os.close(read)
    os.waitpid(pid, 0)
    assert answer == b"new"
    assert get_client() is parent


def test_one_client_per_process_shared_by_its_threads():
    # Many threads asking at once, before any client exists: one client, built once.
    built = []
    real_session = client_module.make_session
    barrier = threading.Barrier(8)
    got = []

    def make_session():
        built.append(1)
        return real_session()

    def ask():
        barrier.wait()
        got.append(get_client())

    client_module.make_session = make_session
    try:
        threads = [threading.Thread(target=ask) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        client_module.make_session = real_session
    assert len(got) == 8 and all(c is got[0] for c in got)
    assert len(built) == 1
    assert get_client() is got[0]


def test_new_client_when_a_setting_changes(settings):
    before = get_client()
    settings.SQS_ENDPOINT_URL = "http://127.0.0.1:9999"
    after = get_client()
    assert after is not before
    assert after.meta.endpoint_url == "http://127.0.0.1:9999"


def test_override_settings_gives_a_client_for_the_override_and_back():
    outside = get_client()
    with override_settings(SQS_ENDPOINT_URL="http://127.0.0.1:9998"):
        inside = get_client()
        assert inside.meta.endpoint_url == "http://127.0.0.1:9998"
    assert get_client() is not inside
    assert get_client().meta.endpoint_url == outside.meta.endpoint_url


def test_unrelated_settings_keep_the_client(settings):
    before = get_client()
    settings.TIME_ZONE = "Europe/Paris"
    assert get_client() is before


def test_credentials_are_never_logged(settings, caplog, server):
    settings.AWS_ACCESS_KEY_ID = "AKIAEXPLICIT"
    settings.AWS_SECRET_ACCESS_KEY = "secret-that-must-not-leak"
    settings.AWS_SESSION_TOKEN = "token-that-must-not-leak"
    register("mail")
    with caplog.at_level(logging.DEBUG, logger="django_sqs"):
        send("mail", body="x")
        settings.SQS_QUEUE_URLS = {"t__gone": server.url + "/123456789012/t__gone"}
        register("gone")
        with pytest.raises(SQSRequestError) as excinfo:
            send("gone", body="x")
    text = caplog.text + str(excinfo.value) + repr(get_client())
    assert caplog.records  # something was logged
    assert "secret-that-must-not-leak" not in text
    assert "token-that-must-not-leak" not in text


# -- errors at the boundary -------------------------------------------------------------------------


def client_error(code, status):
    return botocore.exceptions.ClientError(
        {"Error": {"Code": code, "Message": "no"}, "ResponseMetadata": {"HTTPStatusCode": status}}, "SendMessage"
    )


def test_wrap_errors_turns_boto_errors_into_sqs_request_errors():
    with pytest.raises(SQSRequestError) as excinfo, wrap_errors("SendMessage", "t__mail"):
        raise client_error("AccessDenied", 403)
    assert excinfo.value.code == "AccessDenied"
    assert excinfo.value.transient is False
    assert "SendMessage on queue 't__mail' failed" in str(excinfo.value)
    assert isinstance(excinfo.value.__cause__, botocore.exceptions.ClientError)


def test_wrap_errors_marks_transient_failures():
    with pytest.raises(SQSRequestError) as excinfo, wrap_errors("ReceiveMessage", "t__mail"):
        raise botocore.exceptions.EndpointConnectionError(endpoint_url="http://127.0.0.1:1")
    assert excinfo.value.transient is True
    assert excinfo.value.code == "EndpointConnectionError"


@pytest.mark.parametrize(
    "exc, transient",
    [
        (client_error("ThrottlingException", 400), True),
        (client_error("InternalError", 500), True),
        (client_error("Whatever", 503), True),
        (client_error("InvalidParameterValue", 400), False),
        (botocore.exceptions.ReadTimeoutError(endpoint_url="x"), True),
        (botocore.exceptions.NoCredentialsError(), False),
    ],
)
def test_is_transient(exc, transient):
    assert is_transient(exc) is transient


def test_sending_to_an_unreachable_endpoint_is_a_wrapped_transient_error(settings, monkeypatch):
    settings.SQS_ENDPOINT_URL = "http://127.0.0.1:9"  # discard port: connection refused
    settings.SQS_QUEUE_URLS = {"t__mail": "http://127.0.0.1:9/123456789012/t__mail"}
    register("mail")
    # No retries: the point is the wrapping, not botocore's backoff.
    real = client_module.client_config
    once = botocore.config.Config(retries={"mode": "standard", "total_max_attempts": 1})
    monkeypatch.setattr(client_module, "client_config", lambda: real().merge(once))
    with pytest.raises(SQSRequestError) as excinfo:
        send("mail", body="x")
    assert excinfo.value.transient is True


def test_missing_credentials_say_so(server, settings, monkeypatch):
    # Not "cannot reach SQS": nothing was sent, the credentials are what is missing.
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance-metadata lookup
    client_module.reset()
    register("mail")
    with pytest.raises(SQSRequestError, match="no AWS credentials found") as excinfo:
        send("mail", body="x")
    assert excinfo.value.code == "NoCredentialsError" and excinfo.value.transient is False


def test_every_kind_of_request_has_a_deadline(settings):
    """Long polls read for the poll period plus a margin; the worker's requests on the
    messages it holds (deletes, renewals, give-backs) a few seconds, with fewer attempts."""
    from django_sqs import client as client_module

    settings.SQS_POLL_PERIOD = 20
    default = client_module.get_client().meta.config
    assert default.read_timeout == 25 and default.connect_timeout == 5
    short = client_module.get_client(client_module.SHORT).meta.config
    assert short.read_timeout == 5 and short.connect_timeout == 2
    assert short.retries["total_max_attempts"] == 2
    assert client_module.get_client(client_module.SHORT) is not client_module.get_client()
    settings.SQS_POLL_PERIOD = 1
    assert client_module.get_client().meta.config.read_timeout == 10  # at least 10 s
