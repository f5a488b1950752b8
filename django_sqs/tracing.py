"""OpenTelemetry across the queue, when it is installed and configured; nothing otherwise.

A send made inside a recording span carries its W3C trace context in one message
attribute, ``traceparent`` (the name OpenTelemetry's own SQS instrumentation uses), and
only when there is room: SQS accepts at most 10 message attributes, and the message must
stay under the size limit. The worker and the Lambda handler run each receiver inside
``consumer_span(message)``: a CONSUMER span linked to the sender's span (a link, not a
parent: one trace per request, one per delivery, as the OpenTelemetry messaging
conventions advise for queues).

Without the ``opentelemetry-api`` package, or with it but no SDK configured (no recording
span), both do nothing and cost one check.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

try:
    from opentelemetry import trace
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
except ImportError:  # the optional dependency is absent: tracing is off
    trace = None

ATTRIBUTE = "traceparent"
MAX_ATTRIBUTES = 10  # SQS's limit of message attributes per message
_DATA_TYPE = "String"


def with_trace_context(attributes: dict[str, Any], room: int) -> dict[str, Any]:
    """``attributes`` plus the current trace context, when a span is recording, fewer than
    10 attributes are set, none is ``traceparent`` already, and the attribute fits in
    ``room`` bytes. The caller's dict is never changed."""
    if trace is None or len(attributes) >= MAX_ATTRIBUTES or ATTRIBUTE in attributes:
        return attributes
    if not trace.get_current_span().get_span_context().is_valid:
        return attributes
    carrier: dict[str, str] = {}
    TraceContextTextMapPropagator().inject(carrier)
    value = carrier.get(ATTRIBUTE)
    if not value or len(ATTRIBUTE) + len(_DATA_TYPE) + len(value) > room:
        return attributes
    return {**attributes, ATTRIBUTE: {"DataType": _DATA_TYPE, "StringValue": value}}


def _sender_context(message: Any):
    attribute = (message.message_attributes or {}).get(ATTRIBUTE) or {}
    value = attribute.get("StringValue")
    if not isinstance(value, str):
        return None
    context = trace.get_current_span(TraceContextTextMapPropagator().extract({ATTRIBUTE: value}))
    span_context = context.get_span_context()
    return span_context if span_context.is_valid else None


@contextlib.contextmanager
def consumer_span(message: Any) -> Iterator[Any]:
    """Run the receiver of ``message`` inside this: a CONSUMER span named
    ``"<queue> process"``, linked to the span that sent it. Yields the span (None when
    tracing is off)."""
    if trace is None:
        yield None
        return
    sender = _sender_context(message)
    tracer = trace.get_tracer("django_sqs")
    with tracer.start_as_current_span(
        f"{message.queue_name} process",
        kind=trace.SpanKind.CONSUMER,
        links=[trace.Link(sender)] if sender is not None else (),
        attributes={
            "messaging.system": "aws_sqs",
            "messaging.operation.type": "process",
            "messaging.destination.name": message.queue_name or "",
            "messaging.message.id": message.id or "",
        },
    ) as span:
        yield span
