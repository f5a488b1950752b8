"""The test URLconf with the admin (the SQS dashboard is inside it)."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("sqs/", include("django_sqs.urls")),
]
