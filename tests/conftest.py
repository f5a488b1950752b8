"""Fixtures: AWS isolated, moto's in-process mock, a real local SQS server, the registry."""

import os

# AWS isolated before anything imports boto3: fake credentials, no config files.
os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_SESSION_TOKEN="testing",
    AWS_DEFAULT_REGION="us-east-1",
    AWS_CONFIG_FILE="/nonexistent/aws-config",
    AWS_SHARED_CREDENTIALS_FILE="/nonexistent/aws-credentials",
)
os.environ.pop("AWS_PROFILE", None)

import pytest  # noqa: E402
from moto import mock_aws  # noqa: E402

from django_sqs import client, eager  # noqa: E402
from django_sqs.localserver import LocalSQSServer  # noqa: E402
from django_sqs.periodic import declarations  # noqa: E402
from django_sqs.registry import registry  # noqa: E402


@pytest.fixture(autouse=True)
def _clean_state():
    """Each test starts with no cached clients or URLs and the registry as discovered."""
    saved = dict(registry._registry)
    # @periodic declarations made by a test (or a docs example) go with the registry.
    saved_schedules = dict(declarations.declared)
    client.reset()
    eager.kept.clear()
    from tests import receivers

    receivers.calls.clear()
    yield
    registry._registry = saved
    declarations.declared.clear()
    declarations.declared.update(saved_schedules)
    client.reset()
    # A database test leaves its connection open; a later test without database access
    # that runs the worker in-process would then trip pytest-django's blocker when the
    # worker checks the connection (as Django does around every request).
    from asgiref.sync import SyncToAsync
    from django.db import connections

    connections.close_all()
    # The ORM of async receivers runs in asgiref's one executor thread, which outlives the
    # test: its connections are closed too, or the next test's worker would find them.
    SyncToAsync.single_thread_executor.submit(connections.close_all).result()


@pytest.fixture
def sqs():
    """moto's in-process mock of SQS; yields the (mocked) django_sqs client."""
    with mock_aws():
        client.reset()
        yield client.get_client()
    client.reset()


@pytest.fixture(scope="session")
def sqs_server():
    """A real SQS-compatible server (moto's) over HTTP on 127.0.0.1, in its own process."""
    with LocalSQSServer() as server:
        yield server


@pytest.fixture
def server(sqs_server, settings):
    """Point django_sqs at the local server for this test, with no queues left from
    earlier tests and request counts at zero."""
    settings.SQS_ENDPOINT_URL = sqs_server.url
    raw = client.get_client()
    for url in raw.list_queues().get("QueueUrls", []):
        raw.delete_queue(QueueUrl=url)
    client.reset()
    sqs_server.reset_counts()
    return sqs_server
