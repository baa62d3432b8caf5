"""POST /api/auth/token/: username and password → the user's API token.

Throttled per client (`auth_token` rate) and guarded by django-axes like the
sign-in pages: the credentials go through `authenticate(request, …)` with the
Django request, so failures count per username and per ip and a locked-out
caller gets 429 `locked_out` even with the right password."""

from __future__ import annotations

from django.contrib.auth import authenticate
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from deelrx.api import error_responses
from deelrx.errors import DomainError
from deelrx.tenancy.auth import LoginLockedOut, lockout_message
from deelrx.tenancy.services import api_token_issue


class InvalidCredentials(DomainError):
    status_code = 400
    code = "invalid_credentials"
    default_message = "Unable to sign in with the given username and password."


class TokenInputSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150, trim_whitespace=False)
    password = serializers.CharField(max_length=4096, trim_whitespace=False, style={"input_type": "password"})


class TokenOutputSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="Send as `Authorization: Token <token>`.")
    user_id = serializers.IntegerField()
    username = serializers.CharField()


class TokenObtainApi(APIView):
    authentication_classes: list = []  # credentials are in the body; no session, so no CSRF
    permission_classes = [AllowAny]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "auth_token"

    @extend_schema(
        operation_id="auth_token_create",
        auth=[],
        request=TokenInputSerializer,
        responses={200: TokenOutputSerializer, **error_responses(400, 429)},
        description=(
            "Exchange a username and password for the user's API token (created on first use). "
            "400 `invalid_credentials` for a wrong pair or an inactive user; after repeated failures "
            "per username or per client ip, 429 `locked_out` until the cool-off ends or an admin "
            "unlocks; 429 `throttled` past the request rate."
        ),
    )
    def post(self, request):
        data = TokenInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        django_request = request._request  # django-axes marks the lockout on the Django request
        user = authenticate(
            django_request, username=data.validated_data["username"], password=data.validated_data["password"]
        )
        if user is None:
            if getattr(django_request, "axes_locked_out", False):
                raise LoginLockedOut(lockout_message())
            raise InvalidCredentials()
        key = api_token_issue(user=user)
        return Response({"token": key, "user_id": user.pk, "username": user.username})
