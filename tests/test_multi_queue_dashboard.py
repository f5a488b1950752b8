"""The admin dashboard names the ``SQS_WORKERS`` group that serves a queue (issue 18)."""

from __future__ import annotations

import pytest

from tests.dashboard_helpers import ORDERS, ORDERS_DLQ
from tests.test_dashboard import LIST, _dashboard, boss, queues, row_cells  # noqa: F401  (fixtures, used by name)


@pytest.mark.django_db
def test_the_dashboard_names_the_worker_group_of_a_queue(queues, boss, settings):  # noqa: F811
    html = boss.get(LIST).content.decode()
    assert row_cells(html, ORDERS)[-1] == "receiver tests.dashboard_helpers.handle_order"
    settings.SQS_WORKERS = [{"name": "shop", "queues": ["orders"]}]
    html = boss.get(LIST).content.decode()
    assert row_cells(html, ORDERS)[-1] == "receiver tests.dashboard_helpers.handle_order, worker group shop (SQS_WORKERS)"
    assert row_cells(html, ORDERS_DLQ)[-1] == "dead-letter queue (no receiver)"
