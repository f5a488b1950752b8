"""The shop's receivers, one per message class, plus one that asks to be run later and one
that fails. django_sqs imports this module at start-up (like admin.py)."""

import logging

from django_sqs import RestartLater, receiver
from django_sqs.message import Base64Message, JSONMessage, ModelInstanceMessage

from .models import Activity

logger = logging.getLogger("shop")


def did(name: str, text: str) -> None:
    Activity.objects.create(receiver=name, text=text)
    logger.info("%s: %s", name, text)


@receiver("shop_notes")  # Message: plain text
def take_note(message):
    did("take_note", f"noted {message.get_body()!r}")


@receiver("shop_legacy_import", message_class=Base64Message)  # what boto2-era senders wrote
def import_legacy(message):
    did("import_legacy", f"imported {message.get_body()!r} (on the wire: {message.raw_body!r})")


@receiver("shop_events", message_class=JSONMessage)
def track_event(message):
    event = message.get_body()
    did("track_event", f"user {event['user']} {event['event']} {event['item']!r}")


@receiver("shop_orders", message_class=ModelInstanceMessage)
def confirm_order(message):
    order = message.get_instance()  # fetched fresh from the database
    order.status = "confirmed"
    order.save(update_fields=["status"])
    did("confirm_order", f"confirmed {order}")


@receiver("shop_restock", message_class=JSONMessage)
def restock(message):
    request = message.get_body()
    did("restock", f"supplier closed, {request['quantity']} × {request['item']!r} asked again in 10 minutes (RestartLater)")
    # The message stays in the queue (in flight) and comes back in 600 s; no traceback.
    raise RestartLater(delay=600)


class PaymentDeclined(Exception):
    pass


@receiver(
    "shop_payments",
    message_class=JSONMessage,
    visibility_timeout=30,
    dead_letter_queue="shop_payments_dlq",
    max_receive_count=3,
)
def charge(message):
    payment = message.get_body()
    did("charge", f"card declined for order #{payment['order']} (raised; attempt {message.receive_count} of 3)")
    # With a dead-letter queue the message is kept on error: it comes back after the
    # visibility timeout (30 s), and SQS moves it to shop_payments_dlq after 3 receives.
    raise PaymentDeclined(f"card declined for order #{payment['order']}")
