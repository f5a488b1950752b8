"""The SQS dashboard in a real browser: Debian's headless Chromium driven by Selenium
through Debian's chromedriver (nothing is downloaded), against Django's live server and
the local SQS server. Screenshots of the main pages go to tests/screenshots/ (ignored by git).

Without Chromium the test is skipped on a developer's machine, and fails under CI=true.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from django.contrib.admin.models import LogEntry
from django.core.cache import cache

from tests.dashboard_helpers import ORDERS, ORDERS_DLQ, only_dashboard_queues, poison
from tests.queue_helpers import counts

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"

pytestmark = pytest.mark.django_db(transaction=True)


def require_chromium() -> None:
    """Skip without Debian's chromium and chromedriver; under CI=true, fail instead."""
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        message = f"{CHROMIUM} and {CHROMEDRIVER} are needed (apt-get install chromium chromium-driver)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


@pytest.mark.django_db(transaction=False)
def test_without_chromium_the_browser_test_fails_under_ci(monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "CHROMIUM", "/nonexistent/chromium")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception):
        require_chromium()
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception):
        require_chromium()


@pytest.fixture
def browser():
    require_chromium()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900",
                     "--disable-gpu", "--no-first-run"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.implicitly_wait(5)
    yield driver
    driver.quit()


@pytest.fixture
def site(server, live_server, settings, django_user_model):
    settings.ROOT_URLCONF = "tests.urls_admin"
    cache.clear()
    only_dashboard_queues()
    django_user_model.objects.create_superuser("boss", password="a-long-password")
    yield live_server
    cache.clear()


def shoot(driver, name: str) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    # The whole page, not only the window: a tall page is resized to its height first.
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1280, max(900, min(height, 4000)))
    driver.save_screenshot(str(SCREENSHOTS / f"{name}.png"))
    driver.set_window_size(1280, 900)


def test_dashboard_in_a_real_browser(site, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    def find(selector: str):
        return browser.find_element(By.CSS_SELECTOR, selector)

    def click_link(text: str) -> None:
        browser.find_element(By.PARTIAL_LINK_TEXT, text).click()

    def messages_shown() -> str:
        return " ".join(e.text for e in browser.find_elements(By.CSS_SELECTOR, "ul.messagelist li"))

    poison(['{"order": 1, "note": "<b>not bold</b>"}', '{"order": 2}', '{"order": 3}'])

    # Log in through the admin's own form.
    browser.get(f"{site.url}/admin/")
    find("#id_username").send_keys("boss")
    find("#id_password").send_keys("a-long-password")
    find("input[type=submit]").click()
    click_link("SQS queues")

    # The queue list: the dead-letter queue nested under its queue, with its three messages.
    assert browser.title.startswith("SQS queues")
    dlq_row = find(f'tr[data-queue="{ORDERS_DLQ}"]')
    assert "sqs-level-1" in dlq_row.get_attribute("class")
    assert dlq_row.find_element(By.CSS_SELECTOR, ".sqs-visible").text == "3"
    orders_row = find(f'tr[data-queue="{ORDERS}"]')
    assert f"{ORDERS_DLQ} after 2 receives" in orders_row.text
    shoot(browser, "queue_list")

    # The dead-letter queue's page, then its messages.
    dlq_row.find_element(By.LINK_TEXT, ORDERS_DLQ).click()
    assert find("#sqs-counts").text == "3 / 0 / 0"
    shoot(browser, "queue_page")
    find("#sqs-peek").click()
    find("#sqs-peek-button").click()
    shown = browser.find_elements(By.CSS_SELECTOR, ".sqs-message")
    assert len(shown) == 3
    bodies = " ".join(e.text for e in browser.find_elements(By.CSS_SELECTOR, "pre.sqs-body"))
    assert "<b>not bold</b>" in bodies  # the markup is shown as text...
    assert browser.find_elements(By.CSS_SELECTOR, ".sqs-message b") == []  # ...never rendered
    assert counts(ORDERS_DLQ) == (3, 0)  # each made visible again at once
    shoot(browser, "dlq_browser")

    # Retry one: a confirmation page naming the queue and the one message.
    retried = shown[1].get_attribute("data-message-id")
    shown[1].find_element(By.PARTIAL_LINK_TEXT, "Retry").click()
    assert "1 message" in find("#sqs-confirm-text").text and retried in find("#sqs-confirm-text").text
    shoot(browser, "confirm_retry")
    find("#sqs-confirm").click()
    assert f"Retried 1 message of {ORDERS_DLQ}: {retried}" in messages_shown()
    assert counts(ORDERS) == (1, 0) and counts(ORDERS_DLQ) == (2, 0)

    # Redrive the rest, after the confirmation.
    find("#sqs-redrive").click()
    assert "all 2 messages" in find("#sqs-confirm-text").text
    find("#sqs-confirm").click()
    assert "Redrove 2 message(s)" in messages_shown()
    assert counts(ORDERS) == (3, 0) and counts(ORDERS_DLQ) == (0, 0)
    assert find("#sqs-counts").text == "0 / 0 / 0"

    # Purge the queue they went back to.
    browser.get(f"{site.url}/admin/django_sqs/queue/{ORDERS}/")
    find("#sqs-purge").click()
    assert "all 3 messages" in find("#sqs-confirm-text").text
    shoot(browser, "confirm_purge")
    find("#sqs-confirm").click()
    assert f"Purged {ORDERS}" in messages_shown()
    assert counts(ORDERS) == (0, 0)
    shoot(browser, "after_purge")

    # The queue list's optional auto-refresh (the dashboard's one script) reloads the page.
    browser.get(f"{site.url}/admin/django_sqs/queue/")
    browser.execute_script(
        "window.notReloaded = true; document.getElementById('sqs-auto-refresh').dataset.seconds = '1';")
    find("#sqs-auto-refresh").click()
    WebDriverWait(browser, 10).until(lambda d: d.execute_script("return window.notReloaded === undefined"))
    assert find("#sqs-auto-refresh").is_selected()  # remembered across the reload
    find("#sqs-auto-refresh").click()  # off again

    # Every action is in the admin's history, by whom.
    assert [e.user.username for e in LogEntry.objects.all()] == ["boss"] * 3
    browser.get(f"{site.url}/admin/")
    assert "Purged" in find("#recent-actions-module").text or ORDERS in find("#recent-actions-module").text
