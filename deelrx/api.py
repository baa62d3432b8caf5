"""API conventions shared by every app: the error shape, pagination and the
team permission. Apps never re-implement these.

Every error under /api/ has the shape
    {"error": {"code": "<snake_case>", "message": "<text>", "details": {...}}}
"""

from __future__ import annotations

import copy
import logging
from collections import OrderedDict

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from drf_spectacular.utils import OpenApiParameter, inline_serializer
from rest_framework import authentication, exceptions, serializers
from rest_framework.pagination import BasePagination, CursorPagination
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

from deelrx.db import select_one
from deelrx.errors import DomainError, RequestTooLarge
from deelrx.inputs import parse_id
from deelrx.tenancy.access import TeamAccess, get_team_access
from deelrx.tenancy.models import Role

logger = logging.getLogger(__name__)


# --- Errors -----------------------------------------------------------------------
def error_body(code: str, message: str, details: dict | None = None) -> dict:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def _validation_details(detail) -> dict:
    if isinstance(detail, dict):
        return {key: _as_messages(value) for key, value in detail.items()}
    return {"non_field_errors": _as_messages(detail)}


def _as_messages(value):
    if isinstance(value, dict):
        return {key: _as_messages(inner) for key, inner in value.items()}
    if isinstance(value, list | tuple):
        if all(isinstance(item, str) for item in value):
            return [str(item) for item in value]
        return [_as_messages(item) for item in value]
    return [str(value)]


_DRF_ERROR_CODES: list[tuple[type[Exception], str, int]] = [
    (exceptions.ParseError, "parse_error", 400),
    (exceptions.NotAuthenticated, "not_authenticated", 401),
    (exceptions.AuthenticationFailed, "not_authenticated", 401),
    (exceptions.PermissionDenied, "permission_denied", 403),
    (exceptions.NotFound, "not_found", 404),
    (exceptions.MethodNotAllowed, "method_not_allowed", 405),
    (exceptions.NotAcceptable, "not_acceptable", 406),
    (exceptions.UnsupportedMediaType, "unsupported_media_type", 415),
    (exceptions.Throttled, "throttled", 429),
]


def exception_handler(exc: Exception, context: dict) -> Response:
    """DRF's EXCEPTION_HANDLER: every exception becomes the documented error shape."""
    if isinstance(exc, RequestDataTooBig):  # Django read a body past DATA_UPLOAD_MAX_MEMORY_SIZE
        exc = RequestTooLarge(details={"max_bytes": settings.DATA_UPLOAD_MAX_MEMORY_SIZE})
    if isinstance(exc, DomainError):
        return Response(error_body(exc.code, exc.message, exc.details), status=exc.status_code)
    if isinstance(exc, SuspiciousOperation):  # too many fields or files, a malformed multipart body, …
        return Response(error_body("bad_request", "The request is malformed."), status=400)
    if isinstance(exc, Http404):
        return Response(error_body("not_found", "Not found."), status=404)
    if isinstance(exc, DjangoPermissionDenied):
        return Response(error_body("permission_denied", str(exc) or "Permission denied."), status=403)
    if isinstance(exc, DjangoValidationError):
        details = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        return Response(error_body("validation_error", "Some fields are invalid.", details), status=400)
    if isinstance(exc, exceptions.ValidationError):
        return Response(
            error_body("validation_error", "Some fields are invalid.", _validation_details(exc.detail)),
            status=400,
        )
    for exc_class, code, status in _DRF_ERROR_CODES:
        if isinstance(exc, exc_class):
            details = {}
            headers = {}
            if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
                details["retry_after_seconds"] = int(exc.wait)
                headers["Retry-After"] = str(int(exc.wait))
            if status == 401:
                headers["WWW-Authenticate"] = 'Token realm="api"'
            return Response(error_body(code, str(exc.detail), details), status=status, headers=headers)
    if isinstance(exc, exceptions.APIException):
        return Response(error_body(exc.default_code, str(exc.detail)), status=exc.status_code)
    logger.error("Unhandled API error", exc_info=exc)
    return Response(error_body("server_error", "An unexpected error occurred."), status=500)


def json_error_response(request, code: str, message: str, status: int) -> JsonResponse:
    return JsonResponse(error_body(code, message), status=status)


def is_api_request(request) -> bool:
    return request.path.startswith("/api/")


# --- Pagination ------------------------------------------------------------------
def positive_int_param(request, name: str, *, default: int) -> int:
    """A query parameter that must be a positive integer (400 otherwise); `default` when absent."""
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    value = parse_id(raw)
    if value is None:
        raise exceptions.ValidationError({name: ["A positive integer is required."]})
    return value


def page_size_param(request, *, default: int = 50, maximum: int = 200) -> int:
    """`?page_size=`, the one parser of every list: a positive integer, capped at `maximum`."""
    return min(positive_int_param(request, "page_size", default=default), maximum)


class PagePagination(BasePagination):
    """Page-number pagination without COUNT(*): one extra row tells whether a
    next page exists, so a list costs the same queries on any table size."""

    page_size = 50
    max_page_size = 200
    # A larger page number would overflow the database's OFFSET (a 500).
    max_page_number = 1_000_000
    page_query_param = "page"
    page_size_query_param = "page_size"

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        self.page_number = positive_int_param(request, self.page_query_param, default=1)
        if self.page_number > self.max_page_number:
            raise exceptions.ValidationError({self.page_query_param: [f"At most {self.max_page_number}."]})
        self.current_page_size = page_size_param(request, default=self.page_size, maximum=self.max_page_size)
        offset = (self.page_number - 1) * self.current_page_size
        rows = list(queryset[offset : offset + self.current_page_size + 1])
        self.has_next = len(rows) > self.current_page_size
        return rows[: self.current_page_size]

    def get_next_link(self):
        if not self.has_next:
            return None
        url = self.request.build_absolute_uri()
        return replace_query_param(url, self.page_query_param, self.page_number + 1)

    def get_previous_link(self):
        if self.page_number <= 1:
            return None
        url = self.request.build_absolute_uri()
        if self.page_number == 2:
            return remove_query_param(url, self.page_query_param)
        return replace_query_param(url, self.page_query_param, self.page_number - 1)

    def get_paginated_response(self, data):
        return Response(
            OrderedDict([("results", data), ("next", self.get_next_link()), ("previous", self.get_previous_link())])
        )

    def get_paginated_response_schema(self, schema):
        return {
            "type": "object",
            "required": ["results", "next", "previous"],
            "properties": {
                "results": schema,
                "next": {"type": "string", "nullable": True, "format": "uri"},
                "previous": {"type": "string", "nullable": True, "format": "uri"},
            },
        }

    def get_schema_operation_parameters(self, view):
        return [
            {"name": self.page_query_param, "required": False, "in": "query", "schema": {"type": "integer"}},
            {
                "name": self.page_size_query_param,
                "required": False,
                "in": "query",
                "description": f"Up to {self.max_page_size}.",
                "schema": {"type": "integer"},
            },
        ]


class LedgerCursorPagination(CursorPagination):
    """Cursor pagination for append-heavy tables (ledgers, logs): stable under
    inserts and no COUNT(*)."""

    page_size = 50
    max_page_size = 200
    page_size_query_param = "page_size"
    ordering = ("-created_at", "-id")

    def get_page_size(self, request):
        return page_size_param(request, default=self.page_size, maximum=self.max_page_size)

    def decode_cursor(self, request):
        try:
            return super().decode_cursor(request)
        except exceptions.NotFound:
            raise exceptions.ValidationError({"cursor": ["Invalid cursor."]}) from None


# --- Serializers -------------------------------------------------------------------
class FieldsBuiltOnce:
    """For a ModelSerializer on a hot path: DRF builds its fields from the model's metadata and
    deep-copies the declared ones for every instance (a sixth of a charge's CPU went to the
    response's serializer). Built once per class; each instance gets shallow copies, which bind
    to it as fresh fields do (field name, parent and everything bind sets are the copy's own).
    Nested serializers are still deep-copied: they hold their own bound children. Only for
    serializers whose fields never depend on the instance or its context."""

    def get_fields(self):
        cls = type(self)
        built = cls.__dict__.get("_fields_built_once")
        if built is None:
            built = super().get_fields()
            cls._fields_built_once = built  # two threads may both build it: the same fields
        return {
            name: copy.deepcopy(field) if isinstance(field, serializers.BaseSerializer) else copy.copy(field)
            for name, field in built.items()
        }


# --- Authentication ----------------------------------------------------------------
class TokenAuthentication(authentication.TokenAuthentication):
    """DRF's token authentication with the token and its user read by one statement built
    once (`deelrx.db.select_one`): the ORM's query building for this lookup, made by every
    token request, was a tenth of a charge's CPU. Same answers, same errors."""

    def authenticate_credentials(self, key):
        token = select_one(self.get_model(), related=("user",), key=key)
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid token.")
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        return token.user, token


# --- Permissions -----------------------------------------------------------------
class TeamPermission(BasePermission):
    """Resolves the `team_id` URL argument against the caller's membership.

    Not a member (or no such team, or not an integer) → 404; a member without
    the role the view requires for this method → 403. The resolved access is
    put on `request.team_access` for the view.
    """

    def has_permission(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        request.team_access = get_team_access(
            request.user, view.kwargs.get("team_id"), min_role=view.required_role(request)
        )
        return True


class SuperuserPermission(BasePermission):
    message = "Only superusers may use this endpoint."

    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_authenticated and request.user.is_superuser)


class TeamScopedMixin:
    """For views under /api/teams/<team_id>/…: reads need `viewer`, writes
    `member`, unless `required_roles` says otherwise per method."""

    permission_classes = [TeamPermission]
    required_roles: dict[str, str] = {}

    def required_role(self, request) -> str:
        if request.method in self.required_roles:
            return self.required_roles[request.method]
        return Role.VIEWER if request.method in ("GET", "HEAD", "OPTIONS") else Role.MEMBER

    @property
    def team_access(self) -> TeamAccess:
        return self.request.team_access

    @property
    def team(self):
        return self.request.team_access.team


def team_access_from_body(request, *, min_role: str, field: str = "team_id") -> TeamAccess:
    """Same rules as TeamPermission for a team id given in the request body or query."""
    value = request.data.get(field) if hasattr(request.data, "get") else None
    if value in (None, ""):
        raise exceptions.ValidationError({field: ["This field is required."]})
    return get_team_access(request.user, value, min_role=min_role)


# --- Schema helpers ---------------------------------------------------------------
ErrorResponseSerializer = inline_serializer(
    name="ErrorResponse",
    fields={
        "error": inline_serializer(
            name="ErrorBody",
            fields={
                "code": serializers.CharField(),
                "message": serializers.CharField(),
                "details": serializers.DictField(),
            },
        )
    },
)


def error_responses(*statuses: int) -> dict:
    """`responses=` entries for @extend_schema documenting the error shape."""
    return dict.fromkeys(statuses, ErrorResponseSerializer)


_COMMON_ERRORS = {
    400: "Malformed input: a parse error, or text the API refuses anywhere (deelrx.inputs).",
    401: "No valid session or token.",
    406: "The Accept header asks for a format the API does not produce.",
    413: "The body is larger than the server accepts.",
    415: "The body is in a format the endpoint does not read.",
    429: "Too many requests; retry after `Retry-After` seconds.",
}


def schema_common_errors(result: dict, generator, request, public) -> dict:
    """drf-spectacular postprocessing hook: the errors any operation can answer whatever
    its view documents — 400 (input refused at the boundary) and 406 everywhere, 401 and
    429 where a caller must authenticate, 413 and 415 where there is a request body."""
    if "ErrorResponse" not in result.get("components", {}).get("schemas", {}):
        return result
    content = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            codes = [400, 406]
            if {} not in operation.get("security", [{}]):
                codes += [401, 429]
            if "requestBody" in operation:
                codes += [413, 415]
            for code in codes:
                operation["responses"].setdefault(str(code), {"content": content, "description": _COMMON_ERRORS[code]})
    return result


TEAM_ID_PARAMETER = OpenApiParameter("team_id", int, OpenApiParameter.PATH, description="Team id")


_PAGE_SCHEMAS: dict[str, serializers.Serializer] = {}


def page_of(serializer_class) -> serializers.Serializer:
    """The OpenAPI schema of a list answered by `paginated_response`:
    `{results: [item…], next: url|null, previous: url|null}` (one component per item type)."""
    name = f"Paginated{serializer_class.__name__.removesuffix('Serializer').removesuffix('Output')}List"
    if name not in _PAGE_SCHEMAS:
        _PAGE_SCHEMAS[name] = inline_serializer(
            name=name,
            fields={
                "results": serializer_class(many=True),
                "next": serializers.URLField(allow_null=True),
                "previous": serializers.URLField(allow_null=True),
            },
        )
    return _PAGE_SCHEMAS[name]


def paginated_response(*, request, view, queryset, serializer_class, pagination_class=PagePagination, context=None):
    """Paginate a selector's queryset and serialize the page: the one way lists are returned."""
    paginator = pagination_class()
    page = paginator.paginate_queryset(queryset, request, view=view)
    data = serializer_class(page, many=True, context={"request": request, **(context or {})}).data
    return paginator.get_paginated_response(data)
