"""django_sqs.views.status: access rules, the report, and its cache."""

import time

import botocore.exceptions
import pytest
from django.core.cache import cache
from django.urls import reverse

from django_sqs import send, views
from django_sqs.exceptions import SQSRequestError

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _empty_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def url():
    return reverse("django_sqs:status")


@pytest.fixture
def staff_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("staff", password="x", is_staff=True))
    return client


def test_url_is_wired(url):
    assert url == "/sqs/"


def test_anonymous_users_are_sent_to_a_login_page_that_exists(client, url, settings):
    settings.ROOT_URLCONF = "tests.urls_with_login"
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"{settings.LOGIN_URL}?next=/sqs/"
    assert client.get(response["Location"]).status_code == 200


def test_anonymous_users_get_a_plain_403_when_there_is_no_login_page(client, url, settings):
    # tests.urls has no page at LOGIN_URL (/accounts/login/): a redirect would end on a 404.
    response = client.get(url)
    assert response.status_code == 403
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert "LOGIN_URL" in response.content.decode()


def test_logged_in_users_who_are_not_staff_are_refused(client, url, django_user_model):
    client.force_login(django_user_model.objects.create_user("someone", password="x"))
    response = client.get(url)
    assert response.status_code == 403
    assert b"t__echo" not in response.content


def test_staff_users_see_the_report(sqs, staff_client, url):
    send("echo", body="a")
    response = staff_client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    text = response.content.decode()
    assert text.startswith("SQS queues as of ")
    rows = {line.split()[0]: line.split()[1:] for line in text.splitlines()[2:]}
    assert rows["QUEUE"] == ["VISIBLE", "IN", "FLIGHT", "DELAYED"]
    assert rows["t__echo"] == ["1", "0", "0"]
    assert rows["t__jobs"] == ["-", "-", "-", "(not", "created", "yet)"]
    assert "no-store" in response["Cache-Control"]  # not kept by browsers or proxies


def test_public_when_configured(sqs, client, url, settings):
    settings.SQS_STATUS_PUBLIC = True
    response = client.get(url)
    assert response.status_code == 200
    assert "t__echo" in response.content.decode()


def test_only_get_and_head(staff_client, url):
    assert staff_client.post(url).status_code == 405


def test_sqs_failure_is_a_503_not_a_traceback(staff_client, url, monkeypatch):
    def fail(queues=None):
        raise SQSRequestError("GetQueueUrl on queue 't__echo' failed: could not connect", code="EndpointConnectionError", action="GetQueueUrl")

    monkeypatch.setattr(views.status_report, "gather", fail)
    response = staff_client.get(url)
    assert response.status_code == 503
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert "GetQueueUrl failed (EndpointConnectionError)" in response.content.decode()


def test_aws_error_text_stays_in_the_log(sqs, staff_client, url, monkeypatch, caplog):
    # What AWS answers a role without sqs:GetQueueAttributes: its text names the account and
    # the role. The page shows the action and the code only; the log has the rest.
    send("echo", body="x")
    text = (
        "User: arn:aws:sts::123456789012:assumed-role/web/i-0abc is not authorized to perform: "
        "sqs:getqueueattributes on resource: arn:aws:sqs:us-east-1:123456789012:t__echo"
    )

    def refuse(**kwargs):
        raise botocore.exceptions.ClientError(
            {"Error": {"Code": "AccessDenied", "Message": text}, "ResponseMetadata": {"HTTPStatusCode": 403}},
            "GetQueueAttributes",
        )

    monkeypatch.setattr(sqs, "get_queue_attributes", refuse)
    with caplog.at_level("ERROR", logger="django_sqs"):
        response = staff_client.get(url)
    page = response.content.decode()
    assert response.status_code == 503
    assert "GetQueueAttributes failed (AccessDenied)" in page
    assert "123456789012" not in page and "assumed-role" not in page
    assert "assumed-role/web" in caplog.text


def test_report_is_cached_so_reloads_do_not_hammer_sqs(server, staff_client, url):
    send("echo", body="a")
    send("jobs", body={})
    server.reset_counts()
    first = staff_client.get(url).content
    after_one = server.counts()
    assert after_one["GetQueueAttributes"] == 2  # one per existing queue
    second = staff_client.get(url).content
    assert server.counts() == after_one  # no request at all
    assert second == first


def test_cache_runs_out(server, staff_client, url, monkeypatch):
    monkeypatch.setattr(views, "CACHE_SECONDS", 0.2)
    send("echo", body="a")
    assert _echo(staff_client.get(url)) == ["1", "0", "0"]
    send("echo", body="b")
    assert _echo(staff_client.get(url)) == ["1", "0", "0"]  # still the cached report
    time.sleep(0.3)
    assert _echo(staff_client.get(url)) == ["2", "0", "0"]


def _echo(response):
    for line in response.content.decode().splitlines():
        if line.startswith("t__echo "):
            return line.split()[1:]
    raise AssertionError(response.content)


def test_another_prefix_is_another_report(sqs, staff_client, url, settings):
    send("echo", body="a")
    assert _echo(staff_client.get(url)) == ["1", "0", "0"]
    settings.SQS_QUEUE_PREFIX = "u"
    assert "u__echo" in staff_client.get(url).content.decode()
