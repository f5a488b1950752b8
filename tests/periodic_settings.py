"""The test settings plus the schedules a periodic process test hands its workers
(DJANGO_SQS_TEST_SCHEDULES, JSON; "every" in seconds) and a short lease."""

import json
import os

from tests.settings import *  # noqa: F403

SQS_SCHEDULES = json.loads(os.environ.get("DJANGO_SQS_TEST_SCHEDULES", "{}"))
SQS_SCHEDULE_LEASE = int(os.environ.get("DJANGO_SQS_TEST_SCHEDULE_LEASE", "60"))
