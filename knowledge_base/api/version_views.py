"""/api/help/uploads/<id>/ PUT and /versions/ — an upload's versions (DESIGN §15)."""

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from deelrx.api import error_responses, page_of, paginated_response
from deelrx.errors import FileTooLarge
from knowledge_base.api.upload_serializers import UploadOutputSerializer
from knowledge_base.models import KbUploadVersion
from knowledge_base.selectors.uploads import upload_get_for_user, upload_version_get, upload_versions
from knowledge_base.services.uploads import upload_download_response
from knowledge_base.services.versions import upload_replace, upload_version_restore

# Room for the multipart envelope around the file (as for POST /uploads/).
MULTIPART_OVERHEAD_BYTES = 64 * 1024

UPLOAD_ID_PARAMETER = OpenApiParameter("upload_id", OpenApiTypes.UUID, OpenApiParameter.PATH)
NUMBER_PARAMETER = OpenApiParameter("number", int, OpenApiParameter.PATH, description="The version number (1, 2, …).")


class UploadReplaceInputSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="The new content; its type is sniffed and must match the current one.")


class UploadVersionOutputSerializer(serializers.ModelSerializer):
    version = serializers.IntegerField(source="number", read_only=True)
    created_by = serializers.IntegerField(source="created_by_id", read_only=True, allow_null=True)
    created_by_username = serializers.CharField(source="created_by.username", read_only=True, default=None)
    stored_size = serializers.IntegerField(
        read_only=True, allow_null=True, help_text="Bytes in the store (smaller when kept gzip-encoded)."
    )

    class Meta:
        model = KbUploadVersion
        fields = [
            "version",
            "original_name",
            "size",
            "stored_size",
            "sha256",
            "content_type",
            "created_at",
            "created_by",
            "created_by_username",
        ]


def refuse_oversized_body(request) -> None:
    """Refuse an oversized body from its declared length, before parsing it."""
    declared = int(request.META.get("CONTENT_LENGTH") or 0)
    if declared > settings.UPLOAD_MAX_BYTES + MULTIPART_OVERHEAD_BYTES:
        raise FileTooLarge(
            f"The file is larger than the limit of {settings.UPLOAD_MAX_BYTES} bytes.",
            details={"max_bytes": settings.UPLOAD_MAX_BYTES},
        )


def replace_upload_content(request, upload_id) -> Response:
    """PUT /api/help/uploads/<id>/ (routed from the detail view)."""
    refuse_oversized_body(request)
    upload = upload_get_for_user(user=request.user, upload_id=upload_id)
    data = UploadReplaceInputSerializer(data=request.data)
    data.is_valid(raise_exception=True)
    upload = upload_replace(upload=upload, user=request.user, file=data.validated_data["file"])
    return Response(UploadOutputSerializer(upload, context={"request": request}).data)


REPLACE_SCHEMA = extend_schema(
    operation_id="help_uploads_replace",
    parameters=[UPLOAD_ID_PARAMETER],
    request={"multipart/form-data": UploadReplaceInputSerializer},
    responses={200: UploadOutputSerializer, **error_responses(400, 401, 403, 404, 413, 415)},
    description="Replace the content (a new version; the old one is kept). The key and URL stay.",
)


class UploadVersionListApi(APIView):
    @extend_schema(
        operation_id="help_uploads_versions_list",
        parameters=[
            UPLOAD_ID_PARAMETER,
            OpenApiParameter("page", int, description="Page number (default 1)."),
            OpenApiParameter("page_size", int, description="Up to 200 (default 50)."),
        ],
        responses={200: page_of(UploadVersionOutputSerializer), **error_responses(400, 401, 404)},
    )
    def get(self, request, upload_id):
        upload = upload_get_for_user(user=request.user, upload_id=upload_id)
        return paginated_response(
            request=request,
            view=self,
            queryset=upload_versions(upload),
            serializer_class=UploadVersionOutputSerializer,
        )


class UploadVersionRestoreApi(APIView):
    @extend_schema(
        operation_id="help_uploads_versions_restore",
        request=None,
        parameters=[UPLOAD_ID_PARAMETER, NUMBER_PARAMETER],
        responses={200: UploadOutputSerializer, **error_responses(401, 403, 404, 409)},
        description="Make version n current again, as a new version (n's content copied).",
    )
    def post(self, request, upload_id, number):
        upload = upload_get_for_user(user=request.user, upload_id=upload_id)
        version = upload_version_get(upload=upload, number=number)
        upload = upload_version_restore(upload=upload, number=version.number, user=request.user)
        return Response(UploadOutputSerializer(upload, context={"request": request}).data)


class UploadVersionDownloadApi(APIView):
    @extend_schema(
        operation_id="help_uploads_versions_download",
        parameters=[UPLOAD_ID_PARAMETER, NUMBER_PARAMETER],
        responses={
            (200, "application/octet-stream"): OpenApiResponse(
                OpenApiTypes.BINARY, description="The version's bytes (file-system store), nosniff."
            ),
            302: OpenApiResponse(description="Redirect to a short-lived signed URL of that version (S3)."),
            **error_responses(401, 404),
        },
    )
    def get(self, request, upload_id, number):
        upload = upload_get_for_user(user=request.user, upload_id=upload_id)
        version = upload_version_get(upload=upload, number=number)
        return upload_download_response(upload=upload, user=request.user, version=version)
