from django.contrib import admin

from .models import TaskResultRecord


@admin.register(TaskResultRecord)
class TaskResultRecordAdmin(admin.ModelAdmin):
    list_display = ("id", "task_path", "status", "queue_name", "priority", "enqueued_at", "finished_at", "attempts")
    list_filter = ("status", "backend", "queue_name")
    search_fields = ("id", "task_path")
    date_hierarchy = "enqueued_at"
    readonly_fields = [f.name for f in TaskResultRecord._meta.fields]

    @admin.display(description="attempts")
    def attempts(self, obj: TaskResultRecord) -> int:
        return len(obj.worker_ids)

    def has_add_permission(self, request) -> bool:
        return False  # results are written by the backend
