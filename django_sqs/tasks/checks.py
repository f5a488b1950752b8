"""System checks of an ``SQSBackend`` (run by Django's ``check_tasks`` through ``check()``)."""

from __future__ import annotations

from django.apps import apps
from django.core.checks import Error, Warning
from django.utils.module_loading import import_string

from .. import naming
from .options import FIFO_MAX_ATTEMPTS, MAX_RECEIVE_COUNT

RESULTS_APP = "django_sqs.tasks.results"


def check_backend(backend) -> list[Error | Warning]:
    where = f"TASKS[{backend.alias!r}]"
    errors = [
        Error(f"{where}: {p.message}", hint=p.hint, obj=where, id="django_sqs.E040")
        for p in backend.sqs_options.problems
    ]
    if not backend.queues:
        errors.append(Error(
            f"{where}: QUEUES is empty. Django reads that as 'any queue', but a worker can only "
            "serve queues it knows.",
            hint='List the task queues: "QUEUES": ["default", "emails"].',
            obj=where,
            id="django_sqs.E041",
        ))
    store = backend.sqs_options.result_store
    fifo = sorted(q for q in backend.queues if naming.is_fifo(q))
    if store is None and fifo and backend.sqs_options.max_attempts > 1:
        errors.append(Warning(
            f"{where}: the FIFO task queue(s) {', '.join(map(repr, fifo))} retry without a result store. A FIFO "
            "queue keeps a failed message for its retry, so only SQS's receive count numbers the attempts "
            "there, and a message given back unstarted (a worker stopping) uses up a retry.",
            hint='Set OPTIONS["RESULT_STORE"] = "django_sqs.tasks.results.DatabaseResultStore": it counts the '
            "attempts that really started.",
            obj=where,
            id="django_sqs.W031",
        ))
    if fifo and backend.sqs_options.dead_letter_queue and backend.sqs_options.max_attempts > FIFO_MAX_ATTEMPTS:
        attempts = backend.sqs_options.max_attempts
        errors.append(Warning(
            f"{where}: MAX_ATTEMPTS={attempts} on the FIFO task queue(s) {', '.join(map(repr, fifo))}. A FIFO "
            "retry keeps its message in place, and the later messages of its group received with it (up to 9) "
            f"are given back once per failed attempt: up to {9 * (attempts - 1)} receives of a task that has "
            f"not run, out of the {MAX_RECEIVE_COUNT} after which SQS moves it to the dead-letter queue.",
            hint=f"Use MAX_ATTEMPTS={FIFO_MAX_ATTEMPTS} or fewer on FIFO task queues (a separate TASKS backend "
            "for them), or a longer BACKOFF with fewer attempts.",
            obj=where,
            id="django_sqs.W032",
        ))
    if store is not None:
        try:
            import_string(store)
        except ImportError as exc:
            errors.append(Error(
                f"{where}: RESULT_STORE {store!r} cannot be imported ({exc}).",
                hint='"django_sqs.tasks.results.DatabaseResultStore"',
                obj=where,
                id="django_sqs.E042",
            ))
        else:
            if store.startswith(RESULTS_APP + ".") and not apps.is_installed(RESULTS_APP):
                errors.append(Error(
                    f"{where}: RESULT_STORE keeps results in a table of the app {RESULTS_APP!r}, "
                    "which is not in INSTALLED_APPS.",
                    hint=f'Add "{RESULTS_APP}" to INSTALLED_APPS and run migrate.',
                    obj=where,
                    id="django_sqs.E043",
                ))
    return errors
