from django.http import FileResponse, HttpResponseRedirect
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from admin_ops.api.purge_serializers import (
    PurgeCancelSerializer,
    PurgeDetailSerializer,
    PurgeInputSerializer,
    PurgeOutputSerializer,
)
from admin_ops.selectors import purge as selectors
from admin_ops.services import purge as services
from deelrx.api import error_responses, page_of, paginated_response, team_access_from_body
from deelrx.errors import NotFound
from deelrx.storage import is_s3, private_storage
from deelrx.tenancy.models import Role


class PurgeListCreateApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="admin_purge_list",
        parameters=[
            OpenApiParameter("team_id", int, description="Only this team's purges (admin/owner)."),
            OpenApiParameter("status", str, enum=[s.value for s in services.S]),
        ],
        responses={200: page_of(PurgeOutputSerializer), **error_responses(400, 401, 403, 404)},
    )
    def get(self, request):
        return paginated_response(
            request=request,
            view=self,
            queryset=selectors.purge_list(user=request.user, filters=request.query_params),
            serializer_class=PurgeOutputSerializer,
        )

    @extend_schema(
        operation_id="admin_purge_create",
        request=PurgeInputSerializer,
        responses={201: PurgeDetailSerializer, **error_responses(400, 401, 403, 404, 422)},
    )
    def post(self, request):
        access = team_access_from_body(request, min_role=Role.ADMIN)
        data = PurgeInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        purge = services.purge_request(
            team=access.team,
            user=request.user,
            scope=data.validated_data["scope"],
            scheduled_for=data.validated_data.get("scheduled_for"),
            notes=data.validated_data["notes"],
        )
        return Response(PurgeDetailSerializer(purge, context={"request": request}).data, status=status.HTTP_201_CREATED)


class PurgeDetailApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="admin_purge_retrieve", responses={200: PurgeDetailSerializer, **error_responses(401, 403, 404)}
    )
    def get(self, request, purge_id):
        purge = selectors.purge_get(user=request.user, purge_id=purge_id)
        return Response(PurgeDetailSerializer(purge, context={"request": request}).data)


class PurgeAcknowledgeApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="admin_purge_acknowledge",
        request=None,
        responses={200: PurgeDetailSerializer, **error_responses(401, 403, 404, 409, 422)},
    )
    def post(self, request, purge_id):
        purge = selectors.purge_get(user=request.user, purge_id=purge_id)
        purge = services.purge_acknowledge(purge=purge, user=request.user)
        return Response(PurgeDetailSerializer(purge, context={"request": request}).data)


class PurgeCancelApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="admin_purge_cancel",
        request=PurgeCancelSerializer,
        responses={200: PurgeDetailSerializer, **error_responses(400, 401, 403, 404, 409)},
    )
    def post(self, request, purge_id):
        purge = selectors.purge_get(user=request.user, purge_id=purge_id)
        data = PurgeCancelSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        purge = services.purge_cancel(purge=purge, user=request.user, reason=data.validated_data["reason"])
        return Response(PurgeDetailSerializer(purge, context={"request": request}).data)


def export_response(purge):
    """The export ZIP: streamed from disk, or a redirect to a short-lived
    signed URL on S3. Gone once expired (404)."""
    if not selectors.export_available(purge):
        raise NotFound("The export is not available (not built yet, expired or deleted).")
    storage = private_storage()
    if is_s3(storage):
        return HttpResponseRedirect(storage.url(purge.export_key))
    if not storage.exists(purge.export_key):
        raise NotFound("The export file is missing.")
    response = FileResponse(
        storage.open(purge.export_key, "rb"),
        as_attachment=True,
        filename=f"purge-{purge.pk}.zip",
        content_type="application/zip",
    )
    response["Cache-Control"] = "private, no-store"
    return response


class PurgeExportApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="admin_purge_export",
        responses={
            (200, "application/zip"): OpenApiResponse(OpenApiTypes.BINARY, description="The export ZIP"),
            302: OpenApiResponse(description="Redirect to a short-lived signed URL (S3)"),
            **error_responses(401, 403, 404),
        },
    )
    def get(self, request, purge_id):
        purge = selectors.purge_get(user=request.user, purge_id=purge_id)
        return export_response(purge)
