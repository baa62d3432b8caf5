"""Django admin edits are mutations too: they go to the audit log like any other."""

from __future__ import annotations

from django.contrib import admin

from deelrx.audit.registry import EventType, register_event_types
from deelrx.audit.services import record_event

ADMIN_VERBS = ("created", "changed", "deleted")


def register_admin_event_types(model) -> None:
    """`admin.<model>.created|changed|deleted` for a model edited in the Django
    admin (decision 13): declared when its ModelAdmin is registered."""
    verbose = str(model._meta.verbose_name).replace("{", "").replace("}", "")
    register_event_types(
        "admin",
        "Django admin",
        [
            EventType(
                f"admin.{model._meta.model_name}.{verb}",
                f"{verbose[:1].upper()}{verbose[1:]} {verb} in the Django admin",
                f"{{actor}} {verb} the {verbose} “{{repr}}” in the Django admin",
            )
            for verb in ADMIN_VERBS
        ],
    )


def _team_of(obj):
    team = getattr(obj, "team", None)
    if team is None and obj.__class__.__name__ == "Team":
        return obj
    return team


class AuditedModelAdmin(admin.ModelAdmin):
    """Records `admin.<model>.created|changed|deleted` for every save and delete."""

    def __init__(self, model, admin_site):
        super().__init__(model, admin_site)
        register_admin_event_types(model)

    def _record(self, request, obj, action: str, changed=None) -> None:
        data = {"model": obj._meta.label, "object_id": str(obj.pk), "repr": str(obj)[:200]}
        if changed:
            data["changed"] = sorted(changed)
        team = _team_of(obj)
        record_event(
            event_type=f"admin.{obj._meta.model_name}.{action}",
            team=team if action != "deleted" or obj.__class__.__name__ != "Team" else None,
            user=request.user,
            data=data,
        )

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        self._record(request, obj, "changed" if change else "created", changed=form.changed_data)

    def delete_model(self, request, obj):
        self._record(request, obj, "deleted")
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self._record(request, obj, "deleted")
        super().delete_queryset(request, queryset)
