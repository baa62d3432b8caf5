"""Notifications REST API (DESIGN §13): the caller's own notifications only."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from deelrx.api import LedgerCursorPagination, error_responses, page_of, paginated_response
from deelrx.errors import ValidationFailed
from notifications import selectors, services
from notifications.api.serializers import (
    NotificationOutputSerializer,
    PreferencesSerializer,
    ReadAllOutputSerializer,
)

TRUE, FALSE = ("true", "1", "yes"), ("false", "0", "no", "")
NOTIFICATION_ID = OpenApiParameter("notification_id", str, OpenApiParameter.PATH, description="Notification uuid")


def _unread_param(request) -> bool:
    value = request.query_params.get("unread", "").strip().lower()
    if value not in TRUE + FALSE:
        raise ValidationFailed(details={"unread": ["Must be true or false."]})
    return value in TRUE


class NotificationListApi(APIView):
    @extend_schema(
        operation_id="notifications_list",
        parameters=[
            OpenApiParameter("unread", bool, description="Only unread notifications."),
            OpenApiParameter(
                "event_type", str, description="One event type, or a prefix ending in '.' (`kb.`, `admin_ops.purge.`)."
            ),
            OpenApiParameter("cursor", str, description="From `next` or `previous`."),
            OpenApiParameter("page_size", int, description="Up to 200 (default 50)."),
        ],
        responses={200: page_of(NotificationOutputSerializer), **error_responses(400, 401)},
        description="The caller's notifications, newest first (cursor pagination).",
    )
    def get(self, request):
        rows = selectors.notification_list(
            user=request.user,
            unread=_unread_param(request),
            event_type=request.query_params.get("event_type", "").strip(),
        )
        return paginated_response(
            request=request,
            view=self,
            queryset=rows,
            serializer_class=NotificationOutputSerializer,
            pagination_class=LedgerCursorPagination,
        )


class NotificationReadApi(APIView):
    @extend_schema(
        operation_id="notifications_read",
        parameters=[NOTIFICATION_ID],
        request=None,
        responses={200: NotificationOutputSerializer, **error_responses(401, 404)},
        description="Mark one of the caller's notifications read (again: no change). Another user's is 404.",
    )
    def post(self, request, notification_id):
        notification = selectors.notification_get(user=request.user, notification_id=notification_id)
        notification = services.notification_mark_read(notification=notification)
        return Response(NotificationOutputSerializer(notification).data)


class NotificationReadAllApi(APIView):
    @extend_schema(
        operation_id="notifications_read_all",
        request=None,
        responses={200: ReadAllOutputSerializer, **error_responses(401)},
        description="Mark every unread notification of the caller read.",
    )
    def post(self, request):
        return Response({"marked": services.notifications_mark_all_read(user=request.user)})


class NotificationPreferencesApi(APIView):
    @extend_schema(
        operation_id="notifications_preferences_retrieve",
        responses={200: PreferencesSerializer, **error_responses(401)},
        description="The caller's choice for every event type that notifies (defaults: in-app on, email off).",
    )
    def get(self, request):
        return Response({"preferences": selectors.preferences_for(user=request.user)})

    @extend_schema(
        operation_id="notifications_preferences_update",
        request=PreferencesSerializer,
        responses={200: PreferencesSerializer, **error_responses(400, 401)},
        description="Set `in_app` and/or `email` for the listed event types; the others keep their values. "
        "Answers every preference.",
    )
    def put(self, request):
        data = PreferencesSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.notification_preferences_update(user=request.user, changes=data.validated_data["preferences"])
        return Response({"preferences": selectors.preferences_for(user=request.user)})
