"""Django admin of admin_ops. Audit rows (activity events, job runs) and trackers are
read-only; purges are read-only except their notes, cancelled through the purge
service; inactivity policies are written through the inactivity services, so the
admin follows the same rules and leaves the same audit trail as the API."""

from django import forms
from django.contrib import admin, messages

from admin_ops.models import InactivityPolicy, InactivityTracker, PurgeOperation
from admin_ops.services import inactivity as inactivity_services
from deelrx.admin_audit import AuditedModelAdmin
from deelrx.audit.models import ActivityEvent
from deelrx.errors import DomainError, ValidationFailed
from deelrx.jobs.models import JobRun


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
    list_display = ["job_name", "trigger", "dry_run", "status", "started_at", "finished_at", "worker"]
    list_filter = ["job_name", "status", "trigger", "dry_run"]
    search_fields = ["job_name", "error"]


# --- Purges ---------------------------------------------------------------------------------
@admin.action(description="Cancel the selected purges")
def cancel_purges(modeladmin, request, queryset):
    from admin_ops.services.purge import purge_cancel

    cancelled = 0
    for purge in queryset.select_related("team"):
        try:
            purge_cancel(purge=purge, user=request.user, reason="cancelled in the Django admin")
        except DomainError as exc:
            modeladmin.message_user(request, f"{purge.pk}: {exc.message}", messages.ERROR)
        else:
            cancelled += 1
    if cancelled:
        modeladmin.message_user(request, f"{cancelled} purge(s) cancelled.", messages.SUCCESS)


@admin.register(PurgeOperation)
class PurgeOperationAdmin(AuditedModelAdmin):
    """Every move goes through the purge service; only the notes are edited here (audited)."""

    list_display = ["id", "team", "status", "scheduled_for", "requested_by", "acknowledged_by", "created_at"]
    list_filter = ["status", "team"]
    search_fields = ["id", "notes", "team__name", "requested_by__username"]
    list_select_related = ["team", "requested_by", "requested_by_policy", "acknowledged_by"]
    date_hierarchy = "created_at"
    actions = [cancel_purges]
    fields = [
        "id",
        "team",
        "status",
        "scope",
        "scheduled_for",
        "requested_by",
        "requested_by_policy",
        "export_key",
        "export_expires_at",
        "acknowledged_by",
        "acknowledged_at",
        "executed_at",
        "completed_at",
        "records_affected",
        "progress",
        "error",
        "notes",
        "created_at",
        "updated_at",
    ]
    readonly_fields = [f for f in fields if f != "notes"]

    def has_add_permission(self, request):
        return False  # purges are requested through the API or the purge pages

    def save_model(self, request, obj, form, change):
        # Only the notes, through the service: a full save() would write back the
        # status this form loaded, racing the job that moves the purge along.
        from admin_ops.services.purge import purge_set_notes

        purge_set_notes(purge=obj, user=request.user, notes=form.cleaned_data["notes"])
        self._record(request, obj, "changed", changed=form.changed_data)

    def has_delete_permission(self, request, obj=None):
        return False


# --- Inactivity -----------------------------------------------------------------------------
class InactivityPolicyAdminForm(forms.ModelForm):
    class Meta:
        model = InactivityPolicy
        fields = ["team", "name", "description", "threshold_days", "actions", "is_active"]
        help_texts = {"actions": '{"warnings": [14, 7, 1], "suspend": true, "purge": false}'}

    def clean(self):
        data = super().clean()
        # The service's rules, run here so that a mistake shows on the form.
        try:
            threshold = inactivity_services._clean_threshold(data.get("threshold_days"))
            data["actions"] = inactivity_services._clean_actions(data.get("actions"), threshold)
        except ValidationFailed as exc:
            for key, messages_ in exc.details.items():
                field = key if key in self.fields else "actions" if key.startswith("actions") else None
                for message in messages_:
                    self.add_error(field, message)
        return data


@admin.register(InactivityPolicy)
class InactivityPolicyAdmin(admin.ModelAdmin):
    form = InactivityPolicyAdminForm
    list_display = ["name", "team", "threshold_days", "is_active", "last_run_at", "created_by", "created_at"]
    list_filter = ["is_active", "team"]
    search_fields = ["name", "description", "team__name"]
    list_select_related = ["team", "created_by"]
    readonly_fields = ["last_run_at", "created_by", "created_at", "updated_at"]

    def get_readonly_fields(self, request, obj=None):
        # a policy never moves between teams
        return [*self.readonly_fields, "team"] if obj else self.readonly_fields

    def save_model(self, request, obj, form, change):
        fields = {k: form.cleaned_data[k] for k in ("name", "description", "threshold_days", "actions", "is_active")}
        if change:
            saved = inactivity_services.policy_update(policy=obj, actor=request.user, **fields)
        else:
            saved = inactivity_services.policy_create(team=form.cleaned_data["team"], actor=request.user, **fields)
        obj.pk = saved.pk
        obj.refresh_from_db()

    def delete_model(self, request, obj):
        inactivity_services.policy_delete(policy=obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        for policy in queryset:
            try:
                inactivity_services.policy_delete(policy=policy, actor=request.user)
            except DomainError as exc:
                self.message_user(request, f"{policy.name}: {exc.message}", messages.ERROR)


@admin.action(description="Reinstate the selected (suspended) members")
def reinstate_members(modeladmin, request, queryset):
    done = 0
    for tracker in queryset:
        try:
            inactivity_services.member_reinstate(tracker=tracker, actor=request.user)
        except DomainError as exc:
            modeladmin.message_user(request, f"{tracker}: {exc.message}", messages.ERROR)
        else:
            done += 1
    if done:
        modeladmin.message_user(request, f"{done} member(s) reinstated.", messages.SUCCESS)


@admin.register(InactivityTracker)
class InactivityTrackerAdmin(ReadOnlyAdmin):
    list_display = [
        "user",
        "team",
        "policy",
        "last_activity_at",
        "days_since_activity",
        "is_suspended",
        "purge_requested",
        "updated_at",
    ]
    list_filter = ["is_suspended", "purge_requested", "team", "policy"]
    search_fields = ["user__username", "user__email", "policy__name"]
    list_select_related = ["user", "team", "policy"]
    actions = [reinstate_members]

    def has_change_permission(self, request, obj=None):
        # The list's action needs "change"; the change form itself stays read-only.
        return obj is None and request.user.is_superuser
