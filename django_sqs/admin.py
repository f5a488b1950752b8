"""Found by the admin's autodiscovery: the dashboard's "SQS queues" (``django_sqs.dashboard``)."""

from django.contrib import admin

from .dashboard.admin import register

register(admin.site)
