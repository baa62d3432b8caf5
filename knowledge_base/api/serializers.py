from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from deelrx.inputs import ID_BOUNDS
from knowledge_base.models import KbArticle, KbFeedback, KbRevision
from knowledge_base.selectors.search import snippet_html
from knowledge_base.services import articles as article_service


class ArticleOutputSerializer(serializers.ModelSerializer):
    team_id = serializers.IntegerField(read_only=True)
    author_id = serializers.IntegerField(read_only=True, allow_null=True)
    tags = serializers.ListField(child=serializers.CharField(), read_only=True)
    snippet = serializers.SerializerMethodField(
        help_text="Only when searching (`q`): a passage with the matches in <mark>; all other HTML is escaped."
    )

    class Meta:
        model = KbArticle
        fields = [
            "id",
            "team_id",
            "title",
            "slug",
            "content",
            "content_html",
            "excerpt",
            "status",
            "category",
            "tags",
            "is_public",
            "author_id",
            "view_count",
            "published_at",
            "created_at",
            "updated_at",
            "snippet",
        ]

    @extend_schema_field(OpenApiTypes.STR)
    def get_snippet(self, obj):
        return snippet_html(obj, self.context["q"])

    def to_representation(self, instance):
        # `snippet` only exists in search results.
        if not self.context.get("q"):
            self.fields.pop("snippet", None)
        return super().to_representation(instance)


class ArticleOutputSchema(OpenApiSerializerExtension):
    """`snippet` is in search results only: documented, but not a required property."""

    target_class = ArticleOutputSerializer

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        schema["required"] = [name for name in schema.get("required", []) if name != "snippet"]
        return schema


class _ArticleFieldsSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=article_service.TITLE_MAX_LENGTH)
    content = serializers.CharField(allow_blank=True, trim_whitespace=False)
    slug = serializers.CharField(max_length=article_service.SLUG_MAX_LENGTH, required=False, allow_blank=True)
    excerpt = serializers.CharField(max_length=article_service.EXCERPT_MAX_LENGTH, required=False, allow_blank=True)
    category = serializers.CharField(max_length=article_service.CATEGORY_MAX_LENGTH, required=False, allow_blank=True)
    tags = serializers.ListField(
        child=serializers.CharField(max_length=article_service.MAX_TAG_LENGTH, allow_blank=True),
        required=False,
        max_length=article_service.MAX_TAGS,
    )
    is_public = serializers.BooleanField(required=False)


class ArticleCreateInputSerializer(_ArticleFieldsSerializer):
    team_id = serializers.IntegerField(**ID_BOUNDS)


class ArticleUpdateInputSerializer(_ArticleFieldsSerializer):
    status = serializers.ChoiceField(
        choices=KbArticle.Status.choices,
        required=False,
        help_text="Workflow move: draft → review → published → archived; review, published, archived → draft.",
    )
    note = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=article_service.NOTE_MAX_LENGTH,
        help_text="Revision note; with review → draft it is the reviewer's request for changes.",
    )


class RevisionOutputSerializer(serializers.ModelSerializer):
    article_id = serializers.UUIDField(read_only=True)
    edited_by_id = serializers.IntegerField(read_only=True, allow_null=True)
    edited_by_username = serializers.CharField(source="edited_by.username", read_only=True, default=None)

    class Meta:
        model = KbRevision
        fields = [
            "id",
            "article_id",
            "number",
            "title",
            "content",
            "excerpt",
            "note",
            "edited_by_id",
            "edited_by_username",
            "created_at",
        ]


class FeedbackInputSerializer(serializers.Serializer):
    helpful = serializers.BooleanField()
    comment = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")


class FeedbackOutputSerializer(serializers.ModelSerializer):
    article_id = serializers.UUIDField(read_only=True)
    user_id = serializers.IntegerField(read_only=True, allow_null=True)

    class Meta:
        model = KbFeedback
        fields = ["id", "article_id", "user_id", "helpful", "comment", "created_at"]
