"""The database result store of the SQS tasks backend, an app of its own.

Only projects that set ``OPTIONS["RESULT_STORE"]`` add ``"django_sqs.tasks.results"`` to
``INSTALLED_APPS``; the others have no table to migrate.
"""

from .store import DatabaseResultStore

__all__ = ["DatabaseResultStore"]
