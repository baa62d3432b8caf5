from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field, inline_serializer
from rest_framework import serializers

from admin_ops import purge_registry
from admin_ops.models import PurgeOperation
from admin_ops.selectors.purge import export_available
from admin_ops.services.purge import TRANSITIONS
from deelrx.inputs import ID_BOUNDS
from deelrx.storage import is_s3, private_storage

# The scope's documented shape. Validation itself is purge_registry.validate_scope
# (one set of rules for the API, the pages and the inactivity job), so the field
# stays a JSONField and only its schema is described here.
ScopeSchema = inline_serializer(
    name="PurgeScope",
    fields={
        "entities": serializers.ListField(
            child=serializers.ChoiceField(choices=list(purge_registry.deletion_order())),
            help_text="Credit transactions and accounts go together; customers need both.",
        ),
        "date_range": inline_serializer(
            name="PurgeDateRange",
            fields={
                "from": serializers.CharField(required=False, help_text="ISO date or date-time, inclusive."),
                "to": serializers.CharField(required=False, help_text="ISO date (whole day, inclusive) or date-time."),
            },
            required=False,
        ),
        "criteria": inline_serializer(
            name="PurgeCriteria",
            fields={
                "customer_id": serializers.UUIDField(required=False),
                "user_id": serializers.IntegerField(**ID_BOUNDS, required=False),
                "status": serializers.CharField(required=False),
            },
            required=False,
            help_text="All must hold; an entity that cannot apply one is selected only through its parent.",
        ),
    },
)


@extend_schema_field(ScopeSchema)
class ScopeField(serializers.JSONField):
    pass


class PurgeInputSerializer(serializers.Serializer):
    team_id = serializers.IntegerField(**ID_BOUNDS)
    scope = ScopeField(help_text="{entities: [...], date_range: {from, to}, criteria: {...}}")
    scheduled_for = serializers.DateTimeField(required=False, help_text="Defaults to now; not in the past.")
    notes = serializers.CharField(required=False, allow_blank=True, default="", max_length=5000)


class PurgeCancelSerializer(serializers.Serializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="", max_length=1000)


class PurgeOutputSerializer(serializers.ModelSerializer):
    team_id = serializers.IntegerField(read_only=True)
    scope = ScopeField(read_only=True)
    requested_by_id = serializers.IntegerField(
        read_only=True, allow_null=True, help_text="null when the system requested it (see requested_by_policy_id)"
    )
    requested_by_policy_id = serializers.UUIDField(
        read_only=True, allow_null=True, help_text="The inactivity policy that requested it, if any"
    )
    acknowledged_by_id = serializers.IntegerField(read_only=True, allow_null=True)
    export_available = serializers.SerializerMethodField()
    allowed_transitions = serializers.SerializerMethodField()

    class Meta:
        model = PurgeOperation
        fields = [
            "id",
            "team_id",
            "status",
            "scope",
            "scheduled_for",
            "notes",
            "requested_by_id",
            "requested_by_policy_id",
            "export_available",
            "export_expires_at",
            "acknowledged_by_id",
            "acknowledged_at",
            "executed_at",
            "completed_at",
            "records_affected",
            "error",
            "allowed_transitions",
            "created_at",
            "updated_at",
        ]

    @extend_schema_field(OpenApiTypes.BOOL)
    def get_export_available(self, obj) -> bool:
        return export_available(obj)

    def get_allowed_transitions(self, obj) -> list[str]:
        return sorted(TRANSITIONS[obj.status])


class PurgeDetailSerializer(PurgeOutputSerializer):
    export_url = serializers.SerializerMethodField(
        help_text="Short-lived signed URL on S3, the download endpoint on the file system; null when expired."
    )

    class Meta(PurgeOutputSerializer.Meta):
        fields = [*PurgeOutputSerializer.Meta.fields, "export_url", "progress"]

    @extend_schema_field({"type": "string", "format": "uri", "nullable": True})
    def get_export_url(self, obj) -> str | None:
        if not export_available(obj):
            return None
        storage = private_storage()
        if is_s3(storage):
            return storage.url(obj.export_key)
        request = self.context.get("request")
        path = reverse("api-purge-export", args=[obj.pk])
        return request.build_absolute_uri(path) if request else path
