"""Mode A: EventBridge Scheduler holds the schedules, in one group named after
``SQS_QUEUE_PREFIX`` (``SQS_SCHEDULE_GROUP`` to choose another), and sends the ticks itself.

``plan()`` compares the group with the declarations; ``apply()`` creates, updates and
deletes so that the group holds exactly what the code declares (a schedule in the group
that the code no longer declares is deleted: the group is ours alone). A second run finds
nothing to change and makes no write request.

Each schedule uses the *universal target* ``sqs:sendMessage``: its input is the
SendMessage request itself, so the message carries the same body and the same tick
attributes as mode B's, with ``<aws.scheduler.scheduled-time>`` (filled in by Scheduler)
as the tick. A FIFO target gets a message group (the schedule's name unless ``group_id``
says otherwise) and a deduplication id per tick, so a retry of the same tick by Scheduler
is dropped by SQS whatever the body, and the queue needs no content-based deduplication.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from django.conf import settings as django_settings

from .. import queue_urls
from ..client import _region, client_config, make_session
from ..conf import settings
from ..message import TICK_AT_ATTRIBUTE, TICK_SCHEDULE_ATTRIBUTE
from . import config
from .declarations import all_schedules, resolve
from .firing import body_of, deduplication_id
from .schedule import Schedule, ScheduleError

SCHEDULED_TIME = "<aws.scheduler.scheduled-time>"
EXECUTION_ID = "<aws.scheduler.execution-id>"
SEND_MESSAGE_ARN = "arn:aws:scheduler:::aws-sdk:sqs:sendMessage"
#: The fields of a schedule that ``plan`` compares (and ``apply`` sets).
MANAGED = ("ScheduleExpression", "ScheduleExpressionTimezone", "Target", "FlexibleTimeWindow", "State", "Description")


def scheduler_client():
    session = make_session()
    endpoint = getattr(django_settings, "SQS_SCHEDULER_ENDPOINT_URL", settings.SQS_ENDPOINT_URL)
    return session.client("scheduler", region_name=_region(session), endpoint_url=endpoint or None, config=client_config())


# -- expressions ----------------------------------------------------------------------------
def _shift_weekday(token: str) -> str:
    """One day-of-week item from Unix (0–7, Sunday 0 or 7) to AWS (1–7, Sunday 1)."""
    def day(text: str) -> str:
        return str(int(text) % 7 + 1) if text.isdigit() else text

    if "#" in token:
        d, _, n = token.partition("#")
        return f"{day(d)}#{n}"
    if token.endswith("L") and token[:-1].isdigit():
        return f"{day(token[:-1])}L"
    base, slash, step = token.partition("/")
    if base == "*":
        base = "1" if slash else "*"
    elif "-" in base:
        low, high = base.split("-", 1)
        if high == "7" or (low.isdigit() and high.isdigit() and int(high) < int(low)):
            raise ScheduleError(f"the day-of-week range {base!r} wraps past Saturday; write it as a list (e.g. 5,6,0)")
        base = f"{day(low)}-{day(high)}"
    else:
        base = day(base)
    return base + slash + step


def _step_from(field: str, first: str) -> str:
    # AWS writes "every n from the start" as "0/15" (minutes), "1/2" (days): not "*/15".
    return first + field[1:] if field.startswith("*/") else field


def aws_expression(schedule: Schedule) -> str:
    """The schedule as an EventBridge Scheduler expression: Unix cron → ``cron(m h dom mon
    dow year)`` with ``?`` in one of the day fields; ``every`` → ``rate(n minutes)``."""
    if schedule.every is not None:
        seconds = int(schedule.every.total_seconds())
        if seconds < 60 or seconds % 60:
            raise ScheduleError(
                f"every={schedule.every} is not a whole number of minutes: EventBridge Scheduler's "
                "shortest rate is one minute (mode B fires down to one second)"
            )
        minutes = seconds // 60
        for unit, size in (("days", 1440), ("hours", 60)):
            if minutes % size == 0:
                n = minutes // size
                return f"rate({n} {unit[:-1] if n == 1 else unit})"
        return f"rate({minutes} {'minute' if minutes == 1 else 'minutes'})"
    from .cron import expand

    minute, hour, dom, month, dow = expand(schedule.cron).split()
    if dom not in ("*", "?") and dow not in ("*", "?"):
        raise ScheduleError(
            f"cron {schedule.cron!r} restricts both the day of the month and the day of the week: Unix cron "
            "fires when either matches, AWS cron cannot say that; split it into two schedules"
        )
    if dow in ("*", "?"):
        dow = "?"
    else:
        dow = ",".join(_shift_weekday(t) for t in dow.upper().split(","))
        dom = "?"
    fields = [_step_from(minute, "0"), _step_from(hour, "0"), _step_from(dom, "1"), _step_from(month, "1"), dow, "*"]
    return f"cron({' '.join(fields)})"


# -- targets --------------------------------------------------------------------------------
def target_input(schedule: Schedule) -> dict[str, Any]:
    """The SendMessage request Scheduler makes for each tick (placeholders filled in by AWS)."""
    kind, target = resolve(schedule)
    attributes = {
        TICK_SCHEDULE_ATTRIBUTE: {"DataType": "String", "StringValue": schedule.name},
        TICK_AT_ATTRIBUTE: {"DataType": "String", "StringValue": SCHEDULED_TIME},
    }
    if kind == "queue":
        rq, suffix = target, None
        body = rq.message_class(body=body_of(schedule, SCHEDULED_TIME)).encode()
        group = schedule.group_id or schedule.name
    else:
        rq, suffix, body = _task_message(schedule, target)
        group = target.module_path  # as the tasks backend groups a task's messages
    request = {
        "QueueUrl": existing_queue_url(rq.full_name(suffix)),
        "MessageBody": body,
        "MessageAttributes": attributes,
    }
    if rq.fifo:
        request["MessageGroupId"] = group
        request["MessageDeduplicationId"] = deduplication_id(schedule, SCHEDULED_TIME)
    return request


def existing_queue_url(full_name: str) -> str:
    # Looked up, never created: a dry run changes nothing, on SQS either.
    url = queue_urls.lookup(full_name)
    if not url:
        raise ScheduleError(
            f"the SQS queue {full_name!r} does not exist: run manage.py sqs_create_queues before sqs_sync_schedules"
        )
    return url


def _task_message(schedule: Schedule, task) -> tuple[Any, str | None, str]:
    """The task's queue, priority suffix and envelope, with the tick and a result id per
    execution left for Scheduler to fill in."""
    from ..tasks import queues
    from ..tasks.enqueueing import envelope_of, new_result, sqs_backend_of

    backend = sqs_backend_of(task)
    backend.validate_task(task)
    data = envelope_of(new_result(backend, task, schedule.args, schedule.kwargs)).as_json()
    data.update(id=EXECUTION_ID, enqueued_at=SCHEDULED_TIME, tick={"schedule": schedule.name, "at": SCHEDULED_TIME})
    rq = queues.registered_queue(backend, task.queue_name)
    body = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    return rq, backend.sqs_options.suffix_for(task.priority), body


def desired(schedule: Schedule) -> dict[str, Any]:
    role = config.role_arn()
    if not role:
        raise ScheduleError("SQS_SCHEDULER_ROLE_ARN is not set: EventBridge Scheduler needs a role to send with")
    return {
        "ScheduleExpression": aws_expression(schedule),
        "ScheduleExpressionTimezone": schedule.timezone,
        "Target": {
            "Arn": SEND_MESSAGE_ARN,
            "RoleArn": role,
            "Input": json.dumps(target_input(schedule), separators=(",", ":"), sort_keys=True, ensure_ascii=False),
        },
        "FlexibleTimeWindow": {"Mode": "OFF"},
        "State": "ENABLED",
        "Description": f"django_sqs: {schedule.origin} ({schedule.expression})"[:512],
    }


# -- plan and apply -------------------------------------------------------------------------
@dataclasses.dataclass
class Change:
    action: str  # "create" | "update" | "delete"
    name: str
    fields: dict[str, Any] = dataclasses.field(default_factory=dict)
    #: For an update: field → (in AWS, declared).
    differences: dict[str, tuple[Any, Any]] = dataclasses.field(default_factory=dict)

    def describe(self) -> str:
        sign = {"create": "+", "update": "~", "delete": "-"}[self.action]
        text = f"{sign} {self.name}"
        if self.action == "create":
            text += f": {self.fields['ScheduleExpression']} {self.fields['ScheduleExpressionTimezone']}"
        for key, (old, new) in self.differences.items():
            text += f"\n    {key}: {_show(old)} → {_show(new)}"
        return text


def _show(value: Any) -> str:
    text = json.dumps(value, sort_keys=True) if isinstance(value, dict) else str(value)
    return text if len(text) <= 200 else text[:197] + "..."


@dataclasses.dataclass
class Plan:
    group: str
    group_exists: bool
    changes: list[Change]

    def describe(self) -> list[str]:
        lines = [] if self.group_exists else [f"+ schedule group {self.group}"]
        return lines + [c.describe() for c in self.changes]


def _comparable(fields: dict[str, Any]) -> dict[str, Any]:
    out = {key: fields.get(key) for key in MANAGED}
    target = dict(out["Target"] or {})
    target.pop("RetryPolicy", None)  # AWS's default, not ours
    if target.get("Input"):
        try:
            target["Input"] = json.loads(target["Input"])
        except ValueError:
            pass
    out["Target"] = target
    return out


def plan(client=None, schedules: list[Schedule] | None = None) -> Plan:
    """What ``apply`` would change (reads only)."""
    client = client or scheduler_client()
    group = config.group_name()
    schedules = all_schedules() if schedules is None else schedules
    wanted = {s.name: desired(s) for s in schedules}
    existing: dict[str, dict] = {}
    try:
        client.get_schedule_group(Name=group)
        exists = True
    except client.exceptions.ResourceNotFoundException:
        exists = False
    if exists:
        for page in client.get_paginator("list_schedules").paginate(GroupName=group):
            for summary in page["Schedules"]:
                existing[summary["Name"]] = client.get_schedule(Name=summary["Name"], GroupName=group)
    changes = []
    for name, fields in wanted.items():
        if name not in existing:
            changes.append(Change("create", name, fields))
            continue
        have, want = _comparable(existing[name]), _comparable(fields)
        differences = {k: (have[k], want[k]) for k in MANAGED if have[k] != want[k]}
        if differences:
            changes.append(Change("update", name, fields, differences))
    changes += [Change("delete", name) for name in sorted(set(existing) - set(wanted))]
    return Plan(group, exists, changes)


def apply(result: Plan, client=None) -> None:
    client = client or scheduler_client()
    if not result.group_exists:
        client.create_schedule_group(Name=result.group)
    for change in result.changes:
        if change.action == "delete":
            client.delete_schedule(Name=change.name, GroupName=result.group)
        else:
            call = client.create_schedule if change.action == "create" else client.update_schedule
            call(Name=change.name, GroupName=result.group, **change.fields)
