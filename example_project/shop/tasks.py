"""The shop's Django tasks (``django.tasks``; the django-tasks backport on Django < 6),
run by the same ``runreceiver`` as its receivers: see TASKS in example/settings.py."""

try:
    from django.tasks import task
except ImportError:  # Django < 6.0: the backport
    from django_tasks import task

from .models import Activity, Order


@task
def send_receipt(order_id: int) -> str:
    order = Order.objects.get(pk=order_id)
    text = f"receipt sent for {order}"
    Activity.objects.create(receiver="send_receipt", text=text)
    return text
