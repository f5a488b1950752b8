"""OpenTelemetry across the queue, with opentelemetry-sdk's in-memory exporter: the trace
context goes out in one message attribute when there is room, and the receiver runs in a
CONSUMER span linked to the sender's span."""

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from django_sqs import register, send, tracing
from django_sqs.aws_lambda import make_handler
from django_sqs.conf import MAX_MESSAGE_BYTES
from django_sqs.message import Message
from django_sqs.registry import registry
from django_sqs.sending import prepare_entry
from tests.queue_helpers import drain, event_of

_exporter = InMemorySpanExporter()


@pytest.fixture
def spans():
    # The global provider can be set once per process: the first test sets it for all.
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(_exporter))
        trace.set_tracer_provider(provider)
    _exporter.clear()
    yield _exporter
    _exporter.clear()


def sender_span():
    return trace.get_tracer("tests").start_as_current_span("request")


def test_send_inside_a_span_carries_its_trace_context(server, spans):
    with sender_span() as span:
        send("jobs", body={"n": 1})
    send("jobs", body={"n": 2})  # outside any span: nothing added
    first, second = drain("t__jobs")
    value = first["MessageAttributes"]["traceparent"]["StringValue"]
    ctx = span.get_span_context()
    assert value == f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-{ctx.trace_flags:02x}"
    assert "MessageAttributes" not in second


def attributes(n):
    return {f"a{i}": {"DataType": "String", "StringValue": "v"} for i in range(n)}


def test_only_when_there_is_room(spans):
    rq = registry.get("echo")
    with sender_span():
        nine = Message(body="x")
        nine.message_attributes = attributes(9)
        assert len(prepare_entry(rq, nine)["MessageAttributes"]) == 10
        ten = Message(body="x")
        ten.message_attributes = attributes(10)
        assert prepare_entry(rq, ten)["MessageAttributes"] == attributes(10)  # SQS takes 10 at most
        # A message just under the size limit goes out as it is, without the context.
        full = Message(body="x" * (MAX_MESSAGE_BYTES - 20))
        assert "MessageAttributes" not in prepare_entry(rq, full)
        assert nine.message_attributes == attributes(9)  # the message itself is not changed


def test_the_receiver_runs_in_a_consumer_span_linked_to_the_sender(server, spans):
    seen = []
    register("traced", lambda m: seen.append(trace.get_current_span().get_span_context()))
    with sender_span() as span:
        send("traced", body="x")
    sender = span.get_span_context()
    assert make_handler("tests.settings")(event_of("t__traced"), None) == {"batchItemFailures": []}
    (consumer,) = [s for s in spans.get_finished_spans() if s.kind == trace.SpanKind.CONSUMER]
    assert consumer.name == "t__traced process"
    assert consumer.attributes["messaging.destination.name"] == "t__traced"
    assert [link.context.span_id for link in consumer.links] == [sender.span_id]
    assert seen == [consumer.context]  # the receiver ran inside it
    assert consumer.context.trace_id != sender.trace_id  # linked, not a child


def test_nothing_without_opentelemetry(server, monkeypatch):
    monkeypatch.setattr(tracing, "trace", None)
    seen = []
    register("traced", lambda m: seen.append(m.get_body()))
    with sender_span():
        send("traced", body="x")
    (record,) = drain("t__traced")
    assert "MessageAttributes" not in record
    message = Message.from_sqs(record, queue_name="t__traced")
    with tracing.consumer_span(message) as span:
        assert span is None
