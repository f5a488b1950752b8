"""``QueueAdmin``: the dashboard's URLs in the admin, in place of the model's own."""

from __future__ import annotations

from django.contrib import admin
from django.urls import path

from . import enabled, views
from .models import Queue
from .permissions import allowed


class QueueAdmin(admin.ModelAdmin):
    """No add, change or delete: queues are declared in code, and the model has no table."""

    def has_view_permission(self, request, obj=None) -> bool:
        return enabled() and allowed(request, "view")

    def has_module_permission(self, request) -> bool:
        return self.has_view_permission(request)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_urls(self):
        def wrap(view):
            # admin_view: the admin's login page, has_permission, never-cache and CSRF.
            def wrapper(request, *args, **kwargs):
                return view(request, self, *args, **kwargs)

            return self.admin_site.admin_view(wrapper)

        # The names admin links expect (changelist, change): the admin's "Recent actions"
        # and LogEntry.get_admin_url() lead to the queue's page.
        return [
            path("", wrap(views.queue_list), name="django_sqs_queue_changelist"),
            path("<str:name>/", wrap(views.queue_page), name="django_sqs_queue_change"),
            path("<str:name>/messages/", wrap(views.messages_page), name="django_sqs_queue_messages"),
            path("<str:name>/<str:action>/", wrap(views.action_page), name="django_sqs_queue_action"),
        ]


def register(site: admin.AdminSite) -> None:
    """Put "SQS queues" on ``site``'s index, unless ``SQS_ADMIN = False``."""
    if enabled() and not site.is_registered(Queue):
        site.register(Queue, QueueAdmin)
