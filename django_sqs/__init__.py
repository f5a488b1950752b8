"""django_sqs: Amazon SQS as the background-job system of a Django project.

    from django_sqs import receiver

    @receiver("thumbnails")
    def make_thumbnail(message): ...

    make_thumbnail(body="photo-42")       # send
    # python manage.py runreceiver        # consume
"""

__version__ = "1.0.0.dev0"

from .dead_letters import send_to_dead_letter_queue  # noqa: E402
from .exceptions import RestartLater  # noqa: E402
from .registry import ReceiverProxy, receiver, register  # noqa: E402
from .sending import send, send_many, send_on_commit  # noqa: E402

__all__ = [
    "RestartLater",
    "ReceiverProxy",
    "receiver",
    "register",
    "send",
    "send_many",
    "send_on_commit",
    "send_to_dead_letter_queue",
    "__version__",
]
