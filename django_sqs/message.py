"""Message classes: how a body is written on the wire and read back.

A message class is a small interface. To write your own, subclass ``Message`` and
override two methods::

    class CSVMessage(Message):
        def encode_body(self, body) -> str:        # on send; raise MessageEncodeError if impossible
            return ",".join(body)
        def decode_body(self, raw: str):           # on receive; raise BadMessage if impossible
            return raw.split(",")

Decoding is lazy: a received message decodes only when the receiver calls
``get_body()``, so one bad body never spoils the batch it came in. Pickle is never used.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from typing import Any, NamedTuple

from .exceptions import BadMessage, MessageEncodeError

_UNSET = object()

#: Message attributes that carry a schedule's tick (django_sqs.periodic sends them).
TICK_SCHEDULE_ATTRIBUTE = "django_sqs.schedule"
TICK_AT_ATTRIBUTE = "django_sqs.tick"


class Tick(NamedTuple):
    """One firing of a schedule: its name and its scheduled time (aware, UTC)."""

    schedule: str
    at: dt.datetime

    def as_attributes(self) -> dict[str, dict]:
        return {
            TICK_SCHEDULE_ATTRIBUTE: {"DataType": "String", "StringValue": self.schedule},
            TICK_AT_ATTRIBUTE: {"DataType": "String", "StringValue": self.at.isoformat()},
        }

    @classmethod
    def parse(cls, schedule: Any, at: Any) -> Tick | None:
        """The tick from its two strings; None when either is missing or malformed (a
        message attribute is whatever the sender put there)."""
        if not (isinstance(schedule, str) and schedule and isinstance(at, str)):
            return None
        try:
            when = dt.datetime.fromisoformat(at.replace("Z", "+00:00"))
        except ValueError:
            return None
        if when.tzinfo is None:
            return None
        return cls(schedule, when.astimezone(dt.timezone.utc))


class Message:
    """Plain text, sent as is (UTF-8). ``Message(body="text")``; ``get_body()`` → ``str``."""

    #: SQS facts, set on received messages (None on messages built for sending).
    id: str | None = None
    receipt_handle: str | None = None
    attributes: dict[str, str]
    message_attributes: dict[str, Any]
    queue_name: str | None = None

    def __init__(self, body: Any = None):
        self._body = body
        self._raw: str | None = None
        self._decoded: Any = _UNSET
        self.attributes = {}
        self.message_attributes = {}

    # -- the interface a custom class overrides -------------------------------------
    def encode_body(self, body: Any) -> str:
        if not isinstance(body, str):
            raise MessageEncodeError(
                f"{type(self).__name__} sends text; got {type(body).__name__}. "
                "Use JSONMessage for structured data."
            )
        return body

    def decode_body(self, raw: str) -> Any:
        return raw

    # -- used by the library ----------------------------------------------------------
    def encode(self) -> str:
        """The text that goes on the wire."""
        if self._raw is None:
            self._raw = self.encode_body(self._body)
        return self._raw

    @classmethod
    def from_sqs(cls, record: dict, queue_name: str | None = None) -> Message:
        """A received message from a ReceiveMessage record; nothing is decoded yet."""
        msg = cls.__new__(cls)
        Message.__init__(msg)
        msg._raw = record.get("Body", "")
        msg.id = record.get("MessageId")
        msg.receipt_handle = record.get("ReceiptHandle")
        msg.attributes = dict(record.get("Attributes") or {})
        msg.message_attributes = dict(record.get("MessageAttributes") or {})
        msg.queue_name = queue_name
        return msg

    def get_body(self) -> Any:
        """The decoded body; raises ``BadMessage`` when the class cannot decode it."""
        if self._decoded is _UNSET:
            if self._raw is None:  # built for sending, never encoded
                return self._body
            self._decoded = self.decode_body(self._raw)
        return self._decoded

    @property
    def raw_body(self) -> str | None:
        return self._raw

    @property
    def receive_count(self) -> int:
        """How many times SQS has handed this message out (ApproximateReceiveCount)."""
        return int(self.attributes.get("ApproximateReceiveCount", 0))

    @property
    def sent_at(self) -> dt.datetime | None:
        """When SQS accepted the message (SentTimestamp), as an aware UTC datetime."""
        ts = self.attributes.get("SentTimestamp")
        if ts is None:
            return None
        return dt.datetime.fromtimestamp(int(ts) / 1000, tz=dt.timezone.utc)

    @property
    def tick(self) -> Tick | None:
        """The schedule's tick that sent this message (``django_sqs.periodic``), else None."""
        attrs = self.message_attributes
        return Tick.parse(
            (attrs.get(TICK_SCHEDULE_ATTRIBUTE) or {}).get("StringValue"),
            (attrs.get(TICK_AT_ATTRIBUTE) or {}).get("StringValue"),
        )

    @property
    def group_id(self) -> str | None:
        """The FIFO message group, on FIFO queues."""
        return self.attributes.get("MessageGroupId")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} id={self.id}>"


class Base64Message(Message):
    """Text sent as base64 (what boto2's default message class produced)."""

    def encode_body(self, body: Any) -> str:
        return base64.b64encode(super().encode_body(body).encode("utf-8")).decode("ascii")

    def decode_body(self, raw: str) -> str:
        try:
            return base64.b64decode(raw.encode("ascii"), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeError, ValueError) as exc:
            raise BadMessage(f"body is not base64 of UTF-8 text ({exc})") from exc


class JSONMessage(Message):
    """Any JSON-serialisable value; ``get_body()`` returns it decoded."""

    def encode_body(self, body: Any) -> str:
        try:
            return json.dumps(body, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise MessageEncodeError(f"JSONMessage body is not JSON-serialisable: {exc}") from exc

    def decode_body(self, raw: str) -> Any:
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise BadMessage(f"body is not JSON ({exc})") from exc


class ModelInstanceMessage(Message):
    """A saved model instance by app label, model name and primary key.

    ``ModelInstanceMessage(instance=obj)``; the receiver calls ``get_instance()`` and gets
    the row as it is in the database now (fetched on first call).

    Trust boundary: whoever may send to the queue chooses which row of which model the
    receiver loads. Limit it to the models the queue expects, on a subclass::

        class OrderMessage(ModelInstanceMessage):
            allowed_models = ("shop.Order",)      # labels or model classes

    or in the receiver, ``message.get_instance(models=[Order])``. A message naming any
    other model is a bad message (``BadMessage``: logged, handled by ``delete_on_error``),
    and sending one raises ``MessageEncodeError``.
    """

    #: Models this message may name ("app_label.ModelName" or model classes); empty: any.
    allowed_models: tuple = ()
    _instance: Any = None

    def __init__(self, instance: Any = None, body: Any = None):
        if instance is not None:
            from django.db.models import Model

            if not isinstance(instance, Model):
                raise MessageEncodeError(f"ModelInstanceMessage needs a model instance, not {type(instance).__name__}.")
            # _state.adding: a UUID primary key has a value before the row is saved.
            if instance.pk is None or instance._state.adding:
                raise MessageEncodeError(
                    f"ModelInstanceMessage needs a saved instance; this {type(instance).__name__} is not saved."
                )
            meta = instance._meta
            if not _allows(self.allowed_models, meta.label_lower):
                raise MessageEncodeError(
                    f"{type(self).__name__} carries {_labels(self.allowed_models)} only, not {meta.label}."
                )
            body = {
                "app_label": meta.app_label,
                "model": meta.model_name,
                "pk": meta.pk.value_to_string(instance),
            }
        super().__init__(body=body)
        self._instance = instance

    def encode_body(self, body: Any) -> str:
        if not (isinstance(body, dict) and {"app_label", "model", "pk"} <= body.keys()):
            raise MessageEncodeError("ModelInstanceMessage needs instance=<a saved model instance>.")
        return json.dumps(body, separators=(",", ":"))

    def decode_body(self, raw: str) -> dict:
        try:
            data = json.loads(raw)
            return {"app_label": str(data["app_label"]), "model": str(data["model"]), "pk": data["pk"]}
        except (ValueError, KeyError, TypeError) as exc:
            raise BadMessage(f"body is not a model reference ({exc!r})") from exc

    def get_instance(self, models: Any = ()) -> Any:
        """The model instance, fetched fresh; ``BadMessage`` if the model or row is gone, or
        if the message names a model outside ``allowed_models`` or ``models``."""
        if self._instance is None:
            from django.apps import apps
            from django.core.exceptions import ValidationError

            ref = self.get_body()
            label = f"{ref['app_label']}.{ref['model']}".lower()
            for allowed in (self.allowed_models, models):
                if not _allows(allowed, label):
                    raise BadMessage(f"model {label} is not one this queue accepts ({_labels(allowed)})")
            try:
                model = apps.get_model(ref["app_label"], ref["model"])
            except LookupError as exc:
                raise BadMessage(f"model {ref['app_label']}.{ref['model']} does not exist") from exc
            try:
                self._instance = model._default_manager.get(pk=ref["pk"])
            except model.DoesNotExist as exc:
                raise BadMessage(f"{model._meta.label} with pk={ref['pk']!r} does not exist") from exc
            except (ValueError, TypeError, ValidationError) as exc:
                raise BadMessage(f"{model._meta.label} pk {ref['pk']!r} is invalid ({exc})") from exc
        return self._instance


def _label_of(model: Any) -> str:
    """``"shop.order"`` for ``"shop.Order"`` or the model class ``Order``."""
    return model.lower() if isinstance(model, str) else model._meta.label_lower


def _allows(models: Any, label: str) -> bool:
    return not models or label in {_label_of(m) for m in models}


def _labels(models: Any) -> str:
    return ", ".join(sorted(_label_of(m) for m in models))
