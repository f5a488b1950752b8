from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    # The queue status report (staff users; log in through the admin).
    path("sqs/", include("django_sqs.urls")),
]
