"""/api/help/uploads/ — multipart uploads, the team's list, detail, download, delete."""

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from deelrx.api import error_responses, page_of, paginated_response, team_access_from_body
from deelrx.errors import FileTooLarge, NotFound
from deelrx.input_guard import FormParser, MultiPartParser  # refuse NUL/bidi in fields and file names
from deelrx.tenancy.models import Role
from knowledge_base.api.upload_serializers import (
    UploadDetailOutputSerializer,
    UploadInputSerializer,
    UploadOutputSerializer,
)
from knowledge_base.api.version_views import REPLACE_SCHEMA, replace_upload_content
from knowledge_base.models import KbArticle
from knowledge_base.selectors.uploads import upload_get_for_user, upload_list
from knowledge_base.services.uploads import (
    upload_create,
    upload_delete,
    upload_download_response,
    upload_reprocess,
    upload_thumbnail_response,
)

# Room for the multipart envelope and the other fields around the file.
MULTIPART_OVERHEAD_BYTES = 64 * 1024

UPLOAD_ID_PARAMETER = OpenApiParameter("upload_id", OpenApiTypes.UUID, OpenApiParameter.PATH)


class UploadListCreateApi(APIView):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        operation_id="help_uploads_list",
        parameters=[
            OpenApiParameter("team_id", int, description="Only this team's uploads (404 if not yours)."),
            OpenApiParameter("article_id", OpenApiTypes.UUID),
            OpenApiParameter("store", str, enum=["private", "public"]),
            OpenApiParameter("page", int, description="Page number (default 1)."),
            OpenApiParameter("page_size", int, description="Up to 200 (default 50)."),
        ],
        responses={200: page_of(UploadOutputSerializer), **error_responses(400, 401, 404)},
    )
    def get(self, request):
        return paginated_response(
            request=request,
            view=self,
            queryset=upload_list(user=request.user, filters=request.query_params),
            serializer_class=UploadOutputSerializer,
        )

    @extend_schema(
        operation_id="help_uploads_create",
        request={"multipart/form-data": UploadInputSerializer},
        responses={201: UploadOutputSerializer, **error_responses(400, 401, 403, 404, 413, 415)},
    )
    def post(self, request):
        # Refuse an oversized body from its declared length, before parsing it.
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
        if declared > settings.UPLOAD_MAX_BYTES + MULTIPART_OVERHEAD_BYTES:
            raise FileTooLarge(
                f"The file is larger than the limit of {settings.UPLOAD_MAX_BYTES} bytes.",
                details={"max_bytes": settings.UPLOAD_MAX_BYTES},
            )
        access = team_access_from_body(request, min_role=Role.MEMBER)
        data = UploadInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        article = None
        if data.validated_data.get("article_id"):
            article = KbArticle.objects.filter(team=access.team, pk=data.validated_data["article_id"]).first()
            if article is None:
                raise NotFound("Article not found.")
        upload = upload_create(
            team=access.team,
            user=request.user,
            file=data.validated_data["file"],
            context=data.validated_data["context"] or "user-upload",
            article=article,
        )
        return Response(
            UploadOutputSerializer(upload, context={"request": request}).data, status=status.HTTP_201_CREATED
        )


class UploadDetailApi(APIView):
    @extend_schema(
        operation_id="help_uploads_retrieve",
        parameters=[UPLOAD_ID_PARAMETER],
        responses={200: UploadDetailOutputSerializer, **error_responses(401, 404)},
    )
    def get(self, request, upload_id):
        upload = upload_get_for_user(user=request.user, upload_id=upload_id)
        return Response(UploadDetailOutputSerializer(upload, context={"request": request}).data)

    @REPLACE_SCHEMA
    def put(self, request, upload_id):
        return replace_upload_content(request, upload_id)

    @extend_schema(
        operation_id="help_uploads_destroy",
        parameters=[UPLOAD_ID_PARAMETER],
        responses={204: None, **error_responses(401, 403, 404)},
    )
    def delete(self, request, upload_id):
        upload_delete(upload=upload_get_for_user(user=request.user, upload_id=upload_id), user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class UploadDownloadApi(APIView):
    @extend_schema(
        operation_id="help_uploads_download",
        parameters=[UPLOAD_ID_PARAMETER],
        responses={
            (200, "application/octet-stream"): OpenApiResponse(
                OpenApiTypes.BINARY, description="The file (file-system store), nosniff."
            ),
            302: OpenApiResponse(description="Redirect to a short-lived signed URL (S3)."),
            **error_responses(401, 404),
        },
    )
    def get(self, request, upload_id):
        upload = upload_get_for_user(user=request.user, upload_id=upload_id)
        return upload_download_response(upload=upload, user=request.user)


class UploadThumbnailApi(APIView):
    @extend_schema(
        operation_id="help_uploads_thumbnail",
        parameters=[UPLOAD_ID_PARAMETER],
        responses={
            (200, "image/webp"): OpenApiResponse(OpenApiTypes.BINARY, description="The thumbnail (file-system store)."),
            302: OpenApiResponse(description="Redirect to the thumbnail's (short-lived signed, if private) URL (S3)."),
            **error_responses(401, 404),
        },
    )
    def get(self, request, upload_id):
        upload = upload_get_for_user(user=request.user, upload_id=upload_id)
        return upload_thumbnail_response(upload=upload, user=request.user)


class UploadReprocessApi(APIView):
    @extend_schema(
        operation_id="help_uploads_reprocess",
        request=None,
        parameters=[UPLOAD_ID_PARAMETER],
        responses={202: UploadOutputSerializer, **error_responses(401, 403, 404)},
    )
    def post(self, request, upload_id):
        upload = upload_get_for_user(user=request.user, upload_id=upload_id)
        upload = upload_reprocess(upload=upload, user=request.user)
        return Response(
            UploadOutputSerializer(upload, context={"request": request}).data, status=status.HTTP_202_ACCEPTED
        )
