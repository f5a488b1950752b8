from django.apps import AppConfig


class DjangoSQSConfig(AppConfig):
    name = "django_sqs"
    verbose_name = "Amazon SQS"

    def ready(self) -> None:
        # Only wiring here: no AWS calls and no clients at start-up.
        from . import checks  # noqa: F401  (registers the system checks)
        from .autodiscovery import autodiscover

        autodiscover()
