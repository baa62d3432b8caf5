from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from deelrx.inputs import ID_BOUNDS
from deelrx.storage import UPLOAD_CONTEXTS
from knowledge_base.models import KbUpload
from knowledge_base.services.uploads import upload_thumbnail_url, upload_url


class BlankableUUIDField(serializers.UUIDField):
    """HTML forms send an empty field for "no article": that means null, not an invalid id."""

    def validate_empty_values(self, data):
        if data == "":
            return True, None
        return super().validate_empty_values(data)


class UploadInputSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="The file; its type is sniffed from the bytes.")
    team_id = serializers.IntegerField(**ID_BOUNDS, help_text="Your team (member role or higher).")
    article_id = BlankableUUIDField(required=False, allow_null=True, help_text="An article of the same team.")
    context = serializers.ChoiceField(
        choices=UPLOAD_CONTEXTS,
        default="user-upload",
        allow_blank=True,
        help_text="Decides the store: kb-article and public-asset are public, everything else private.",
    )


class UploadOutputSerializer(serializers.ModelSerializer):
    team_id = serializers.IntegerField(read_only=True)
    article_id = serializers.UUIDField(read_only=True, allow_null=True)
    url = serializers.SerializerMethodField()
    thumbnail_url = serializers.SerializerMethodField()

    class Meta:
        model = KbUpload
        fields = [
            "id",
            "team_id",
            "article_id",
            "store",
            "key",
            "original_name",
            "content_type",
            "size",
            "sha256",
            "url",
            "version",
            "processing_status",
            "processing_error",
            "thumbnail_url",
            "created_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.URLField(help_text="Public URL, or the download endpoint for private files."))
    def get_url(self, upload: KbUpload) -> str:
        return upload_url(upload, request=self.context.get("request"))

    @extend_schema_field(
        serializers.URLField(
            allow_null=True,
            help_text="The thumbnail (images, a PDF's first page) once processed: public URL, or the "
            "authenticated thumbnail endpoint for private files; null when there is none.",
        )
    )
    def get_thumbnail_url(self, upload: KbUpload) -> str | None:
        return upload_thumbnail_url(upload, request=self.context.get("request"))


class UploadDetailOutputSerializer(UploadOutputSerializer):
    """The detail adds the extracted text (lists leave it out: it can be long)."""

    class Meta(UploadOutputSerializer.Meta):
        fields = [*UploadOutputSerializer.Meta.fields, "extracted_text"]
        read_only_fields = fields
