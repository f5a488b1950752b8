"""django_sqs: Amazon SQS as the background-job system of a Django project.

    from django_sqs import receiver

    @receiver("thumbnails")
    def make_thumbnail(message): ...

    make_thumbnail(body="photo-42")       # send
    # python manage.py runreceiver        # consume
"""

from .dead_letters import send_to_dead_letter_queue
from .exceptions import RestartLater
from .periodic import periodic
from .proxy import ReceiverProxy, receiver
from .registry import register
from .sending import send, send_many, send_on_commit
from .version import __version__

__all__ = [
    "RestartLater",
    "ReceiverProxy",
    "periodic",
    "receiver",
    "register",
    "send",
    "send_many",
    "send_on_commit",
    "send_to_dead_letter_queue",
    "__version__",
]
