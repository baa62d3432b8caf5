"""Proposed edits over REST (issue 11): what a member proposes and an admin decides."""

from rest_framework import serializers

from knowledge_base.models import KbProposal


class ProposalOutputSerializer(serializers.ModelSerializer):
    article_id = serializers.UUIDField(read_only=True)
    team_id = serializers.IntegerField(source="article.team_id", read_only=True)
    article_title = serializers.CharField(source="article.title", read_only=True)
    proposed_by_id = serializers.IntegerField(read_only=True, allow_null=True)
    proposed_by_username = serializers.CharField(
        source="proposed_by.username", read_only=True, default=None, allow_null=True
    )
    reviewed_by_id = serializers.IntegerField(read_only=True, allow_null=True)
    reviewed_by_username = serializers.CharField(
        source="reviewed_by.username", read_only=True, default=None, allow_null=True
    )

    class Meta:
        model = KbProposal
        fields = [
            "id",
            "article_id",
            "team_id",
            "article_title",
            "base_revision",
            "title",
            "excerpt",
            "content",
            "note",
            "status",
            "proposed_by_id",
            "proposed_by_username",
            "reviewed_by_id",
            "reviewed_by_username",
            "review_note",
            "reviewed_at",
            "created_at",
        ]
        read_only_fields = fields


class ProposalCreateInputSerializer(serializers.Serializer):
    """Title, excerpt and content as the proposer would have saved them (the limits
    are the article service's, checked there)."""

    title = serializers.CharField(allow_blank=True)
    content = serializers.CharField(allow_blank=True, trim_whitespace=False)
    excerpt = serializers.CharField(required=False, allow_blank=True, default="")
    note = serializers.CharField(required=False, allow_blank=True, default="", help_text="Why the change is proposed.")


class ProposalDecisionInputSerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=[KbProposal.Status.ACCEPTED, KbProposal.Status.DECLINED],
        help_text="accepted applies the proposal as the article's next revision; declined needs a note.",
    )
    note = serializers.CharField(
        required=False, allow_blank=True, default="", help_text="For the proposer (required to decline)."
    )
