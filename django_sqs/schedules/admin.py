"""The schedules in the admin: every claimed tick, and per schedule its next tick."""

from django.contrib import admin
from django.utils import timezone

from ..periodic.cron import next_ticks
from ..periodic.declarations import all_schedules
from .models import ScheduleTick


@admin.register(ScheduleTick)
class ScheduleTickAdmin(admin.ModelAdmin):
    list_display = ("schedule", "tick", "sent", "claimed_by", "claims", "next_tick", "error")
    list_filter = ("schedule",)
    search_fields = ("schedule", "message_id")
    date_hierarchy = "tick"
    readonly_fields = [f.name for f in ScheduleTick._meta.fields]

    @admin.display(boolean=True, description="sent")
    def sent(self, obj: ScheduleTick) -> bool:
        return obj.sent_at is not None

    @admin.display(description="next tick of the schedule")
    def next_tick(self, obj: ScheduleTick):
        schedule = next((s for s in all_schedules() if s.name == obj.schedule), None)
        if schedule is None or schedule.problems():
            return "-"  # no longer declared, or declared wrongly (the checks say why)
        return next_ticks(schedule, timezone.now(), 1)[0]

    def has_add_permission(self, request) -> bool:
        return False  # rows are claims, written by the firing loop

    def has_change_permission(self, request, obj=None) -> bool:
        return False
