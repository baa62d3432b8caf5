"""Governance API (DESIGN §8): activity log, inactivity policies and trackers, blob manager.

Team ids come in the query string (reads) or the body (writes) and follow the
path rule: unknown, non-integer or not-a-member → 404; a member below admin → 403.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.utils.urls import replace_query_param
from rest_framework.views import APIView

from admin_ops.api.governance_serializers import (
    ActivityEventOutputSerializer,
    BlobActionInputSerializer,
    BlobListSerializer,
    BlobMigratedSerializer,
    InactivityPolicyInputSerializer,
    InactivityPolicyOutputSerializer,
    InactivityPolicyUpdateSerializer,
    InactivityTrackerOutputSerializer,
)
from admin_ops.selectors import blobs as blob_selectors
from admin_ops.selectors import inactivity as inactivity_selectors
from admin_ops.selectors.activity import ACTIVITY_CSV_HEADER, activity_csv_rows, activity_list
from admin_ops.services import blobs as blob_services
from admin_ops.services import inactivity as inactivity_services
from deelrx.api import (
    LedgerCursorPagination,
    PagePagination,
    SuperuserPermission,
    error_responses,
    page_of,
    page_size_param,
    paginated_response,
    team_access_from_body,
)
from deelrx.csv_export import CSVRenderer, streaming_csv_response, wants_csv
from deelrx.tenancy.access import TeamAccess, get_team_access
from deelrx.tenancy.models import Role

TEAM_ID_QUERY = OpenApiParameter("team_id", int, required=True, description="Team id (admin or owner)")


def team_access_from_query(request, *, min_role: str = Role.ADMIN) -> TeamAccess:
    value = request.query_params.get("team_id")
    if value in (None, ""):
        raise exceptions.ValidationError({"team_id": ["This field is required."]})
    return get_team_access(request.user, value, min_role=min_role)


class ActivityListApi(APIView):
    # JSON pages, or every matching event as one streamed CSV (`?format=csv`)
    renderer_classes = [*api_settings.DEFAULT_RENDERER_CLASSES, CSVRenderer]

    @extend_schema(
        operation_id="admin_activity_list",
        parameters=[
            TEAM_ID_QUERY,
            OpenApiParameter("user", int, description="Acting user id"),
            OpenApiParameter(
                "event_type",
                str,
                description='A registered type (e.g. "credit.transaction.created"), or a prefix ending in "." '
                '(e.g. "credit."); an unknown type or a prefix no type has is 400',
            ),
            OpenApiParameter(
                "prefix",
                str,
                description='Types starting with this: an app ("admin_ops.", which includes purges) or an entity '
                '("admin_ops.purge."); the trailing "." may be left out',
            ),
            OpenApiParameter("created_after", str, description="ISO 8601 date or date-time (inclusive)"),
            OpenApiParameter("created_before", str, description="ISO 8601 date or date-time (exclusive)"),
            OpenApiParameter("cursor", str, description="From `next`/`previous`; do not build it"),
            OpenApiParameter("page_size", int, description="Up to 200 (default 50)"),
            OpenApiParameter(
                "format",
                str,
                enum=["json", "csv"],
                description="csv: every matching event (no pages), streamed, with the columns "
                + ", ".join(ACTIVITY_CSV_HEADER),
            ),
        ],
        responses={
            (200, "application/json"): page_of(ActivityEventOutputSerializer),
            (200, "text/csv"): OpenApiTypes.STR,
            # errors stay JSON when CSV was asked for
            **{(code, "application/json"): body for code, body in error_responses(400, 401, 403, 404).items()},
        },
    )
    def get(self, request):
        access = team_access_from_query(request)
        if wants_csv(request):
            rows = activity_csv_rows(team=access.team, filters=request.query_params)
            return streaming_csv_response(
                filename=f"activity-team-{access.team.pk}.csv", header=ACTIVITY_CSV_HEADER, rows=rows
            )
        return paginated_response(
            request=request,
            view=self,
            queryset=activity_list(team=access.team, filters=request.query_params),
            serializer_class=ActivityEventOutputSerializer,
            pagination_class=LedgerCursorPagination,
        )


# --- Inactivity policies -------------------------------------------------------------------
class InactivityPolicyListCreateApi(APIView):
    @extend_schema(
        operation_id="admin_inactivity_policies_list",
        parameters=[TEAM_ID_QUERY],
        responses={
            200: page_of(InactivityPolicyOutputSerializer),
            **error_responses(400, 401, 403, 404),
        },
    )
    def get(self, request):
        access = team_access_from_query(request)
        return paginated_response(
            request=request,
            view=self,
            queryset=inactivity_selectors.policy_list(team=access.team),
            serializer_class=InactivityPolicyOutputSerializer,
            pagination_class=PagePagination,
        )

    @extend_schema(
        operation_id="admin_inactivity_policies_create",
        request=InactivityPolicyInputSerializer,
        responses={201: InactivityPolicyOutputSerializer, **error_responses(400, 401, 403, 404)},
    )
    def post(self, request):
        # The team first: an unknown or foreign team is 404 before any field is judged.
        access = team_access_from_body(request, min_role=Role.ADMIN)
        data = InactivityPolicyInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        fields.pop("team_id")
        policy = inactivity_services.policy_create(team=access.team, actor=request.user, **fields)
        return Response(InactivityPolicyOutputSerializer(policy).data, status=status.HTTP_201_CREATED)


class InactivityPolicyDetailApi(APIView):
    def get_policy(self, request, policy_id):
        policy = inactivity_selectors.policy_get(user=request.user, policy_id=policy_id)
        get_team_access(request.user, policy.team_id, min_role=Role.ADMIN)
        return policy

    @extend_schema(
        operation_id="admin_inactivity_policies_retrieve",
        responses={200: InactivityPolicyOutputSerializer, **error_responses(401, 403, 404)},
    )
    def get(self, request, policy_id):
        return Response(InactivityPolicyOutputSerializer(self.get_policy(request, policy_id)).data)

    @extend_schema(
        operation_id="admin_inactivity_policies_update",
        request=InactivityPolicyUpdateSerializer,
        responses={200: InactivityPolicyOutputSerializer, **error_responses(400, 401, 403, 404)},
    )
    def patch(self, request, policy_id):
        policy = self.get_policy(request, policy_id)
        data = InactivityPolicyUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        policy = inactivity_services.policy_update(policy=policy, actor=request.user, **data.validated_data)
        return Response(InactivityPolicyOutputSerializer(policy).data)

    @extend_schema(
        operation_id="admin_inactivity_policies_destroy",
        responses={204: None, **error_responses(401, 403, 404, 409)},
    )
    def delete(self, request, policy_id):
        inactivity_services.policy_delete(policy=self.get_policy(request, policy_id), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- Inactivity trackers -------------------------------------------------------------------
class InactivityTrackerListApi(APIView):
    @extend_schema(
        operation_id="admin_inactivity_trackers_list",
        parameters=[
            TEAM_ID_QUERY,
            OpenApiParameter("policy_id", str, description="Policy uuid"),
            OpenApiParameter("user", int, description="User id"),
            OpenApiParameter("is_suspended", bool),
        ],
        responses={
            200: page_of(InactivityTrackerOutputSerializer),
            **error_responses(400, 401, 403, 404),
        },
    )
    def get(self, request):
        access = team_access_from_query(request)
        return paginated_response(
            request=request,
            view=self,
            queryset=inactivity_selectors.tracker_list(team=access.team, filters=request.query_params),
            serializer_class=InactivityTrackerOutputSerializer,
            pagination_class=PagePagination,
        )


class InactivityTrackerReinstateApi(APIView):
    @extend_schema(
        operation_id="admin_inactivity_trackers_reinstate",
        request=None,
        responses={200: InactivityTrackerOutputSerializer, **error_responses(401, 403, 404, 409)},
    )
    def post(self, request, tracker_id):
        tracker = inactivity_selectors.tracker_get(user=request.user, tracker_id=tracker_id)
        get_team_access(request.user, tracker.team_id, min_role=Role.ADMIN)
        tracker = inactivity_services.member_reinstate(tracker=tracker, actor=request.user)
        return Response(InactivityTrackerOutputSerializer(tracker).data)


# --- Blob manager ----------------------------------------------------------------------------
class BlobManagementApi(APIView):
    """Superusers only. Lists are by key, forward-only (`next`), as S3 lists them."""

    permission_classes = [SuperuserPermission]

    @extend_schema(
        operation_id="admin_blob_management_list",
        parameters=[
            OpenApiParameter("storeType", str, required=True, enum=["private", "public"]),
            OpenApiParameter("prefix", str, description="Key prefix; relative to the store when it lacks one"),
            OpenApiParameter("cursor", str, description="From `next`; do not build it"),
            OpenApiParameter("page_size", int, description="Up to 200 (default 50)"),
        ],
        responses={200: BlobListSerializer, **error_responses(400, 401, 403)},
    )
    def get(self, request):
        entries, next_cursor = blob_selectors.blob_list(
            store=request.query_params.get("storeType"),
            prefix=request.query_params.get("prefix"),
            cursor=request.query_params.get("cursor"),
            limit=page_size_param(request),
        )
        url = request.build_absolute_uri()
        next_link = replace_query_param(url, "cursor", next_cursor) if next_cursor else None
        data = BlobListSerializer({"results": entries, "next": next_link, "previous": None}).data
        return Response(data)

    @extend_schema(
        operation_id="admin_blob_management_migrate",
        request=BlobActionInputSerializer,
        responses={200: BlobMigratedSerializer, **error_responses(400, 401, 403, 404, 409)},
    )
    def post(self, request):
        data = BlobActionInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = blob_services.blob_migrate(
            actor=request.user, key=data.validated_data["key"], to_store=data.validated_data["to_store"]
        )
        return Response(BlobMigratedSerializer(result).data)

    @extend_schema(
        operation_id="admin_blob_management_delete",
        parameters=[
            OpenApiParameter("storeType", str, required=True, enum=["private", "public"]),
            OpenApiParameter("key", str, required=True),
            OpenApiParameter("force", bool, description="Delete even when rows point at the file"),
        ],
        responses={204: None, **error_responses(400, 401, 403, 404, 409)},
    )
    def delete(self, request):
        blob_services.blob_delete(
            actor=request.user,
            store=request.query_params.get("storeType"),
            key=request.query_params.get("key"),
            force=request.query_params.get("force", "").lower() in ("1", "true", "yes"),
        )
        return Response(status=status.HTTP_204_NO_CONTENT)
