"""System checks: a wrong setting is reported by ``manage.py check``, with an id and a hint."""

from __future__ import annotations

from django.core.checks import Error, Tags, Warning, register

from . import naming
from . import worker_groups as groups
from .conf import MAX_POLL_PERIOD, MAX_VISIBILITY_TIMEOUT, is_module_list, settings
from .periodic import checks as _periodic_checks  # noqa: F401  (registers E070–E079)
from .registry import describe_clash, registry


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def not_boolean(names, check_id: str) -> list:
    """An error ``check_id`` for each of the settings ``names`` that is not True or False."""
    errors = []
    for name in names:
        value = getattr(settings, name)
        if not isinstance(value, bool):
            errors.append(Error(
                f"{name} must be True or False, not {value!r}.",
                hint=f"Set {name} = True or {name} = False.",
                id=check_id,
            ))
    return errors


@register(Tags.compatibility)
def check_settings(app_configs=None, **kwargs) -> list:
    errors = []
    problem = naming.prefix_problem(settings.SQS_QUEUE_PREFIX, settings.DEBUG)
    if problem:
        check_id, message, hint = problem
        errors.append(Error(message, hint=hint, id=check_id))

    poll = settings.SQS_POLL_PERIOD
    if not _is_int(poll) or not 0 <= poll <= MAX_POLL_PERIOD:
        errors.append(Error(
            f"SQS_POLL_PERIOD must be an int from 0 to {MAX_POLL_PERIOD} (seconds), not {poll!r}.",
            hint="SQS long polling waits at most 20 s; 20 is the cheapest (3 requests a minute when idle).",
            id="django_sqs.E004",
        ))

    vt = settings.SQS_DEFAULT_VISIBILITY_TIMEOUT
    if not _is_int(vt) or not 0 <= vt <= MAX_VISIBILITY_TIMEOUT:
        errors.append(Error(
            f"SQS_DEFAULT_VISIBILITY_TIMEOUT must be an int from 0 to {MAX_VISIBILITY_TIMEOUT} (seconds), not {vt!r}.",
            hint="Use a few times the usual run time of your receivers, e.g. 60.",
            id="django_sqs.E005",
        ))

    urls = settings.SQS_QUEUE_URLS
    if not isinstance(urls, dict) or not all(isinstance(k, str) and isinstance(v, str) and v for k, v in urls.items()):
        errors.append(Error(
            "SQS_QUEUE_URLS must be a dict of full queue name (str) to queue URL (str).",
            hint='SQS_QUEUE_URLS = {"prod__mail": "https://sqs.eu-west-1.amazonaws.com/123456789012/prod__mail"}',
            id="django_sqs.E006",
        ))

    errors += not_boolean(("SQS_CREATE_QUEUES", "SQS_EAGER", "SQS_STATUS_PUBLIC"), "django_sqs.E007")

    for name in ("SQS_REGION", "SQS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        value = getattr(settings, name)
        if value is not None and not isinstance(value, str):
            errors.append(Error(
                f"{name} must be a string or unset, not {type(value).__name__}.",
                hint=f"Remove {name} to use boto3's default, or set it to a string.",
                id="django_sqs.E008",
            ))
    endpoint = settings.SQS_ENDPOINT_URL
    if isinstance(endpoint, str) and endpoint and not endpoint.startswith(("http://", "https://")):
        errors.append(Error(
            f"SQS_ENDPOINT_URL {endpoint!r} is not an http(s) URL.",
            hint='For a local server: SQS_ENDPOINT_URL = "http://127.0.0.1:9324".',
            id="django_sqs.E009",
        ))

    if bool(settings.AWS_ACCESS_KEY_ID) != bool(settings.AWS_SECRET_ACCESS_KEY):
        errors.append(Error(
            "Only one of AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY is set.",
            hint="Set both, or neither to use boto3's default credential chain (environment, profile, role).",
            id="django_sqs.E010",
        ))

    modules = settings.SQS_RECEIVER_MODULES
    if not is_module_list(modules):
        errors.append(Error(
            f"SQS_RECEIVER_MODULES must be a list of module names (identifiers), not {modules!r}.",
            hint='SQS_RECEIVER_MODULES = ["receivers", "tasks"] imports receivers.py and tasks.py of every installed app.',
            id="django_sqs.E021",
        ))

    if not errors:
        errors += _check_queue_names()
        errors += [
            (Warning if ".W" in check_id else Error)(message, hint=hint, id=check_id)
            for check_id, message, hint in groups.problems()
        ]
    return errors


def _check_queue_names() -> list:
    errors = []
    for rq in registry:
        vt = rq.get_visibility_timeout()
        if rq.receiver is not None and _is_int(vt) and vt < 1:
            errors.append(Error(
                f"Queue {rq.name!r} has a receiver and a visibility timeout of {vt}: a worker cannot "
                "hold its messages (each would be handed out again at once, and the worker would spin).",
                hint="Give the receiver visibility_timeout=... of 1 second or more, or raise SQS_DEFAULT_VISIBILITY_TIMEOUT.",
                obj=rq.name,
                id="django_sqs.E012",
            ))
        if rq.receiver is not None and rq.dead_letter_queue and rq.max_receive_count == 1:
            errors.append(Warning(
                f"Queue {rq.name!r} moves a message to its dead-letter queue {rq.dead_letter_queue!r} after "
                "max_receive_count=1 receive. A worker that stops gives back the messages it received but "
                "did not start (up to threads + 10), and each give-back is a receive: a message given back "
                "once reaches the dead-letter queue without having run.",
                hint="Use max_receive_count=2 or more (the default is 5): every receive counts, failed runs "
                "and give-backs alike.",
                obj=rq.name,
                id="django_sqs.W030",
            ))
        for suffix in (None, *rq.suffixes):
            full = naming.build_full_name(settings.SQS_QUEUE_PREFIX, rq.name, suffix)
            problem = naming.name_problem(full)
            if problem:
                errors.append(Error(
                    f"Queue {rq.name!r} has the SQS name {full!r}, which SQS would refuse: {problem}.",
                    hint="Shorten SQS_QUEUE_PREFIX or the queue name (at most 80 characters in all).",
                    obj=rq.name,
                    id="django_sqs.E011",
                ))
    for sqs_name, owners in registry.clashes():
        errors.append(Error(
            describe_clash(sqs_name, owners),
            hint="Each SQS queue has one registration: one queue feeding two receivers would hand each "
            "message to whichever worker receives it first.",
            obj=sqs_name,
            id="django_sqs.E020",
        ))
    return errors

