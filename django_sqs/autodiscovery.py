"""Import the ``receivers`` module of every installed app, as the admin does for ``admin``."""

from django.utils.module_loading import autodiscover_modules

from .registry import registry


def autodiscover() -> None:
    # register_to=registry: a receivers module that fails to import is rolled back out of
    # the registry (Django restores registry._registry), then the error is raised.
    autodiscover_modules("receivers", register_to=registry)
