from django.contrib.auth.views import LoginView
from django.urls import include, path

urlpatterns = [
    path("sqs/", include("django_sqs.urls")),
    path("accounts/login/", LoginView.as_view(template_name="login.html"), name="login"),
]
