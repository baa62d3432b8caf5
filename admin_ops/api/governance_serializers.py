"""Serializers of the governance endpoints: activity log, inactivity policies and trackers, blob manager."""

from __future__ import annotations

from rest_framework import serializers

from admin_ops.models import InactivityPolicy, InactivityTracker
from admin_ops.services.inactivity import MAX_THRESHOLD_DAYS
from deelrx.audit.models import ActivityEvent
from deelrx.audit.registry import event_sentence
from deelrx.inputs import ID_BOUNDS, column_bounds

THRESHOLD_BOUNDS = column_bounds(InactivityPolicy, "threshold_days", min_value=1, max_value=MAX_THRESHOLD_DAYS)


class ActivityEventOutputSerializer(serializers.ModelSerializer):
    team_id = serializers.IntegerField(allow_null=True)
    user_id = serializers.IntegerField(allow_null=True)
    username = serializers.SerializerMethodField()
    sentence = serializers.SerializerMethodField(
        help_text="The event in words, from its type's registered sentence: alice published the article “Returns”."
    )

    class Meta:
        model = ActivityEvent
        fields = [
            "id",
            "team_id",
            "user_id",
            "username",
            "event_type",
            "sentence",
            "event_data",
            "ip_address",
            "user_agent",
            "created_at",
        ]

    def get_username(self, event) -> str | None:
        return event.user.username if event.user_id else None

    def get_sentence(self, event) -> str:
        return event_sentence(event)


# --- Inactivity -----------------------------------------------------------------------------
class StrictSerializer(serializers.Serializer):
    """Unknown keys are a 400, not silently dropped: a typo such as "supend" must not
    quietly leave a policy doing less than its author thinks."""

    read_only_keys: tuple[str, ...] = ()

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError(
                    {k: ["Cannot be changed." if k in self.read_only_keys else "Unknown field."] for k in unknown}
                )
        return super().to_internal_value(data)


class InactivityActionsSerializer(StrictSerializer):
    warnings = serializers.ListField(
        child=serializers.IntegerField(**THRESHOLD_BOUNDS),
        required=False,
        max_length=MAX_THRESHOLD_DAYS,
        help_text="Days before the threshold at which the member is warned by email; each > 0 and < threshold_days.",
    )
    suspend = serializers.BooleanField(required=False, help_text="Suspend the membership at the threshold.")
    purge = serializers.BooleanField(required=False, help_text="Request a purge of the member's activity data.")


class InactivityPolicyInputSerializer(StrictSerializer):
    team_id = serializers.IntegerField(**ID_BOUNDS, help_text="Team id; a policy never moves to another team.")
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    threshold_days = serializers.IntegerField(**THRESHOLD_BOUNDS)
    actions = InactivityActionsSerializer(required=False)
    is_active = serializers.BooleanField(required=False, default=True)


class InactivityPolicyUpdateSerializer(StrictSerializer):
    read_only_keys = ("id", "team_id", "last_run_at", "created_by", "created_at", "updated_at")

    name = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    threshold_days = serializers.IntegerField(**THRESHOLD_BOUNDS, required=False)
    actions = InactivityActionsSerializer(required=False, help_text="Keys given replace those keys.")
    is_active = serializers.BooleanField(required=False)


class InactivityPolicyOutputSerializer(serializers.ModelSerializer):
    team_id = serializers.IntegerField()
    created_by = serializers.IntegerField(source="created_by_id", allow_null=True)
    actions = InactivityActionsSerializer()

    class Meta:
        model = InactivityPolicy
        fields = [
            "id",
            "team_id",
            "name",
            "description",
            "threshold_days",
            "actions",
            "is_active",
            "last_run_at",
            "created_by",
            "created_at",
            "updated_at",
        ]


class InactivityTrackerOutputSerializer(serializers.ModelSerializer):
    team_id = serializers.IntegerField()
    user_id = serializers.IntegerField()
    username = serializers.CharField(source="user.username")
    policy_id = serializers.UUIDField()
    policy_name = serializers.CharField(source="policy.name")
    warnings_sent = serializers.ListField(child=serializers.IntegerField())
    purge_operation_id = serializers.UUIDField(allow_null=True)

    class Meta:
        model = InactivityTracker
        fields = [
            "id",
            "team_id",
            "user_id",
            "username",
            "policy_id",
            "policy_name",
            "last_activity_at",
            "days_since_activity",
            "warnings_sent",
            "is_suspended",
            "purge_requested",
            "purge_operation_id",
            "updated_at",
        ]


# --- Blob manager ---------------------------------------------------------------------------
class BlobReferenceSerializer(serializers.Serializer):
    model = serializers.CharField(help_text='"app_label.Model" of the row')
    id = serializers.CharField()


class BlobOutputSerializer(serializers.Serializer):
    key = serializers.CharField()
    size = serializers.IntegerField(help_text="Bytes in the store (gzip-encoded text is smaller than the file)")
    last_modified = serializers.DateTimeField(allow_null=True)
    referenced_by = BlobReferenceSerializer(many=True)
    details = serializers.JSONField(
        allow_null=True,
        help_text="What the owning app knows of the file, e.g. for an upload's file: kind 'upload', size and "
        "stored_size (saved_bytes by compression), version, versions [{version, key, storage_version_id, size, "
        "stored_size, created_at}], thumbnail_key, thumbnail_url; for an older version's copy: kind 'version'; "
        "for a thumbnail: kind 'thumbnail'. Null when no app describes it.",
    )


class BlobListSerializer(serializers.Serializer):
    results = BlobOutputSerializer(many=True)
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True, help_text="Always null: the listing is forward-only.")


class BlobActionInputSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=["migrate"])
    key = serializers.CharField(help_text="Full key, e.g. private/kb/3/ab12/report.pdf")
    to_store = serializers.ChoiceField(choices=["private", "public"])


class BlobMigratedSerializer(serializers.Serializer):
    key = serializers.CharField(help_text="The file's new key")
    previous_key = serializers.CharField()
    store = serializers.CharField()
    referenced_by = BlobReferenceSerializer(many=True, help_text="The rows repointed at the new key")
