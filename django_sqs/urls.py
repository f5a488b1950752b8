"""URLs of django_sqs: ``path("sqs/", include("django_sqs.urls"))`` serves the status
report at ``sqs/`` (URL name ``django_sqs:status``)."""

from django.urls import path

from . import views

app_name = "django_sqs"

urlpatterns = [
    path("", views.status, name="status"),
]
