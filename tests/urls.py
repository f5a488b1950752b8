from django.urls import include, path

urlpatterns = [path("sqs/", include("django_sqs.urls"))]
