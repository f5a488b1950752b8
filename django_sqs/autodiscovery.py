"""Import the receiver modules of every installed app, as the admin does for ``admin``.

Which modules: ``SQS_RECEIVER_MODULES`` (default ``["receivers"]``).
"""

from django.utils.module_loading import autodiscover_modules

from .conf import receiver_modules
from .registry import registry


def autodiscover() -> None:
    # register_to=registry: a receivers module that fails to import is rolled back out of
    # the registry (Django restores registry._registry), then the error is raised.
    autodiscover_modules(*receiver_modules(), register_to=registry)
