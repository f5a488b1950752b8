from django.apps import AppConfig


class SchedulesConfig(AppConfig):
    name = "django_sqs.schedules"
    label = "django_sqs_schedules"
    verbose_name = "SQS schedules"
    default_auto_field = "django.db.models.BigAutoField"
