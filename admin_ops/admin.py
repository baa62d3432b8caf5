from django.contrib import admin

from admin_ops.models import ActivityEvent, JobRun


class ReadOnlyAdmin(admin.ModelAdmin):
    """Audit rows are append-only: viewable, never added, changed or deleted here."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ActivityEvent)
class ActivityEventAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "event_type", "team", "user", "ip_address"]
    list_filter = ["event_type", "team"]
    search_fields = ["event_type", "user__username", "ip_address"]
    list_select_related = ["team", "user"]
    date_hierarchy = "created_at"


@admin.register(JobRun)
class JobRunAdmin(ReadOnlyAdmin):
    list_display = ["job_name", "trigger", "status", "started_at", "finished_at"]
    list_filter = ["job_name", "status", "trigger"]
    search_fields = ["job_name", "error"]
