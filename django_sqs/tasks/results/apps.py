from django.apps import AppConfig


class TaskResultsConfig(AppConfig):
    name = "django_sqs.tasks.results"
    label = "django_sqs_results"
    verbose_name = "SQS task results"
    default_auto_field = "django.db.models.AutoField"
