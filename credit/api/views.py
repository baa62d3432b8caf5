"""Credit REST API (DESIGN §6): one APIView per resource, thin — selectors
read, services write, errors come out in the shared shape."""

from __future__ import annotations

import json

from django.core.serializers.json import DjangoJSONEncoder
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, PolymorphicProxySerializer, extend_schema
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from credit.api.serializers import (
    CreditAccountDetailSerializer,
    CreditAccountInputSerializer,
    CreditAccountOutputSerializer,
    CreditOverviewSerializer,
    CreditStatementSerializer,
    CreditTransactionInputSerializer,
    CreditTransactionOutputSerializer,
    CreditTransactionStatusInputSerializer,
)
from credit.models import CreditAccount, CreditTransaction
from credit.selectors import accounts as account_selectors
from credit.selectors import statements as statement_selectors
from credit.selectors import transactions as transaction_selectors
from credit.selectors.statements import LEDGER_CSV_HEADER, STATEMENT_CSV_HEADER
from credit.services import accounts as account_services
from credit.services import idempotency, ledger
from deelrx.api import (
    TEAM_ID_PARAMETER,
    LedgerCursorPagination,
    PagePagination,
    TeamScopedMixin,
    error_responses,
    exception_handler,
    page_of,
    paginated_response,
)
from deelrx.csv_export import CSVRenderer, streaming_csv_response, wants_csv
from deelrx.errors import DomainError, ValidationFailed
from deelrx.tenancy.models import Role
from deelrx.tenancy.selectors import customer_get

IDEMPOTENCY_KEY_MAX_LENGTH = 255


def _json_body(data) -> object:
    """Plain JSON (str uuids and dates) — what is stored for replays."""
    return json.loads(json.dumps(data, cls=DjangoJSONEncoder))


class CreditApi(TeamScopedMixin, APIView):
    """The team's credit overview, one account's details, and account settings."""

    required_roles = {"PUT": Role.ADMIN}

    @extend_schema(
        operation_id="team_credit_retrieve",
        parameters=[
            TEAM_ID_PARAMETER,
            OpenApiParameter(
                "customer_id",
                str,
                description="A customer's uuid: return that account and its 10 most recent transactions.",
            ),
            OpenApiParameter("status", str, enum=CreditAccount.Status.values),
            OpenApiParameter("q", str, description="Customer name or email contains"),
            OpenApiParameter("page", int),
            OpenApiParameter("page_size", int, description="Up to 200."),
        ],
        responses={
            200: PolymorphicProxySerializer(
                component_name="CreditOverviewOrAccount",
                serializers=[CreditOverviewSerializer, CreditAccountDetailSerializer],
                resource_type_field_name=None,
            ),
            **error_responses(400, 401, 403, 404),
        },
        description="Without `customer_id`: the summary and the accounts (paginated, filters `status`, `q`). "
        "With `customer_id`: that account with `recent_transactions`.",
    )
    def get(self, request, team_id):
        customer_id = request.query_params.get("customer_id")
        if customer_id:
            account = account_selectors.account_get(team=self.team, customer_id=customer_id)
            recent = transaction_selectors.recent_transactions(account=account)
            return Response(CreditAccountDetailSerializer(account, context={"recent_transactions": recent}).data)
        response = paginated_response(
            request=request,
            view=self,
            queryset=account_selectors.account_list(team=self.team, filters=request.query_params),
            serializer_class=CreditAccountOutputSerializer,
            pagination_class=PagePagination,
        )
        response.data = {"summary": account_selectors.credit_summary(team=self.team), **response.data}
        return response

    @extend_schema(
        operation_id="team_credit_update",
        parameters=[TEAM_ID_PARAMETER],
        request=CreditAccountInputSerializer,
        responses={
            200: CreditAccountOutputSerializer,
            201: CreditAccountOutputSerializer,
            **error_responses(400, 401, 403, 404, 409, 422),
        },
        description="Create (201) or update (200) the account of `customer_id`. Admin or owner. "
        "`reason` is kept in the limit-change history.",
    )
    def put(self, request, team_id):
        data = CreditAccountInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        customer = customer_get(team=self.team, customer_id=values.pop("customer_id"))
        account, created = account_services.account_upsert(
            team=self.team, customer=customer, user=request.user, **values
        )
        account = account_selectors.account_get(team=self.team, account_id=account.pk)
        return Response(
            CreditAccountOutputSerializer(account).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class CreditTransactionListApi(TeamScopedMixin, APIView):
    """The team's ledger (cursor-paginated, newest first, or every matching row as one
    streamed CSV with `?format=csv`) and posting to it."""

    renderer_classes = [*api_settings.DEFAULT_RENDERER_CLASSES, CSVRenderer]

    @extend_schema(
        operation_id="team_credit_transactions_list",
        parameters=[
            TEAM_ID_PARAMETER,
            OpenApiParameter("customer_id", str, description="Customer uuid"),
            OpenApiParameter("credit_id", str, description="Credit account uuid"),
            OpenApiParameter("type", str, enum=CreditTransaction.Type.values),
            OpenApiParameter("status", str, enum=CreditTransaction.Status.values),
            OpenApiParameter("created_after", str, description="ISO 8601; created at or after"),
            OpenApiParameter("created_before", str, description="ISO 8601; created strictly before"),
            OpenApiParameter("due_before", str, description="Date; due strictly before"),
            OpenApiParameter("min_amount_cents", int),
            OpenApiParameter("max_amount_cents", int),
            OpenApiParameter("cursor", str, description="Opaque cursor from `next`/`previous`."),
            OpenApiParameter("page_size", int, description="Up to 200 (default 50)."),
            OpenApiParameter(
                "format",
                str,
                enum=["json", "csv"],
                description="csv: every matching row (no pages), streamed, with the columns "
                + ", ".join(LEDGER_CSV_HEADER),
            ),
        ],
        responses={
            (200, "application/json"): page_of(CreditTransactionOutputSerializer),
            (200, "text/csv"): OpenApiTypes.STR,
            **{(code, "application/json"): body for code, body in error_responses(400, 401, 403, 404).items()},
        },
    )
    def get(self, request, team_id):
        if wants_csv(request):
            rows = statement_selectors.transaction_csv_rows(team=self.team, filters=request.query_params)
            return streaming_csv_response(
                filename=f"ledger-team-{self.team.pk}.csv", header=LEDGER_CSV_HEADER, rows=rows
            )
        return paginated_response(
            request=request,
            view=self,
            queryset=transaction_selectors.transaction_list(team=self.team, filters=request.query_params),
            serializer_class=CreditTransactionOutputSerializer,
            pagination_class=LedgerCursorPagination,
        )

    @extend_schema(
        operation_id="team_credit_transactions_create",
        parameters=[
            TEAM_ID_PARAMETER,
            OpenApiParameter(
                "Idempotency-Key",
                str,
                OpenApiParameter.HEADER,
                description="Replays the first response for the same key and body (header "
                "`Idempotent-Replayed: true`); kept for IDEMPOTENCY_KEY_TTL (48 h by default).",
            ),
        ],
        request=CreditTransactionInputSerializer,
        responses={
            201: OpenApiResponse(CreditTransactionOutputSerializer, description="Posted (or replayed)."),
            **error_responses(400, 401, 403, 404, 409, 422),
        },
    )
    def post(self, request, team_id):
        key = self._idempotency_key(request)
        if not key:
            status_code, body = self._create(request, key="")
            return Response(body, status=status_code)
        status_code, body, replayed = idempotency.idempotent_call(
            team=self.team,
            key=key,
            fingerprint=idempotency.request_fingerprint(method=request.method, path=request.path, body=request.data),
            handler=lambda keep: self._create(request, key=key, keep=keep),
            on_error=self._error_outcome,
        )
        headers = {idempotency.REPLAY_HEADER: "true"} if replayed else {}
        return Response(body, status=status_code, headers=headers)

    def _idempotency_key(self, request) -> str:
        header = (request.headers.get("Idempotency-Key") or "").strip()
        body = request.data.get("idempotency_key") if hasattr(request.data, "get") else None
        if body is not None and not isinstance(body, str):
            # a non-string key must not be dropped silently: the write would not be idempotent
            raise ValidationFailed(details={"idempotency_key": ["A string is required."]})
        body = (body or "").strip()
        if header and body and header != body:
            raise ValidationFailed(details={"idempotency_key": ["Differs from the Idempotency-Key header."]})
        key = header or body
        if len(key) > IDEMPOTENCY_KEY_MAX_LENGTH:
            raise ValidationFailed(details={"idempotency_key": ["At most 255 characters."]})
        return key

    def _create(self, request, *, key: str, keep=None) -> tuple[int, object]:
        data = CreditTransactionInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        values.pop("idempotency_key", None)
        response = {}

        def posted(tx) -> None:
            # Serialized from the row as written (nothing is read back); with a key,
            # stored in the posting's own transaction.
            response["body"] = _json_body(CreditTransactionOutputSerializer(tx).data)
            if keep is not None:
                keep(status.HTTP_201_CREATED, response["body"])

        ledger.transaction_post(team=self.team, user=request.user, idempotency_key=key, on_posted=posted, **values)
        return status.HTTP_201_CREATED, response["body"]

    def _error_outcome(self, exc: Exception) -> tuple[int, object]:
        if isinstance(exc, DomainError | exceptions.APIException | Http404):
            response = exception_handler(exc, {"view": self})
            return response.status_code, _json_body(response.data)
        return status.HTTP_500_INTERNAL_SERVER_ERROR, None


class CreditTransactionDetailApi(TeamScopedMixin, APIView):
    @extend_schema(
        operation_id="team_credit_transactions_partial_update",
        parameters=[TEAM_ID_PARAMETER, OpenApiParameter("transaction_id", str, OpenApiParameter.PATH)],
        request=CreditTransactionStatusInputSerializer,
        responses={200: CreditTransactionOutputSerializer, **error_responses(400, 401, 403, 404, 409, 422)},
        description=(
            "Status moves only pending → completed | failed | cancelled (else 409 invalid_transition). "
            "A payment whose card charge is in flight is settled by Stripe: 409 payment_in_progress."
        ),
    )
    def patch(self, request, team_id, transaction_id):
        tx = transaction_selectors.transaction_get(team=self.team, transaction_id=transaction_id)
        data = CreditTransactionStatusInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        ledger.transaction_set_status(transaction=tx, status=data.validated_data["status"], user=request.user)
        tx = transaction_selectors.transaction_get(team=self.team, transaction_id=tx.pk)
        return Response(CreditTransactionOutputSerializer(tx).data)


class CreditStatementApi(TeamScopedMixin, APIView):
    """A monthly statement of one account (DESIGN §14): JSON or `?format=csv`."""

    renderer_classes = [*api_settings.DEFAULT_RENDERER_CLASSES, CSVRenderer]

    @extend_schema(
        operation_id="team_credit_statement",
        parameters=[
            TEAM_ID_PARAMETER,
            OpenApiParameter("customer_id", str, required=True, description="Customer uuid"),
            OpenApiParameter("month", str, description="YYYY-MM; default the current month"),
            OpenApiParameter(
                "format", str, enum=["json", "csv"], description="csv: " + ", ".join(STATEMENT_CSV_HEADER)
            ),
        ],
        responses={
            (200, "application/json"): CreditStatementSerializer,
            (200, "text/csv"): OpenApiTypes.STR,
            **{(code, "application/json"): body for code, body in error_responses(400, 401, 403, 404).items()},
        },
    )
    def get(self, request, team_id):
        month = statement_selectors.parse_month(request.query_params.get("month"))
        customer_id = request.query_params.get("customer_id")
        if not customer_id:
            raise ValidationFailed(details={"customer_id": ["This field is required."]})
        account = account_selectors.account_get(team=self.team, customer_id=customer_id)
        statement = statement_selectors.statement_for(account=account, month=month)
        if wants_csv(request):
            return streaming_csv_response(
                filename=f"statement-{account.pk}-{month:%Y-%m}.csv",
                header=STATEMENT_CSV_HEADER,
                rows=statement_selectors.statement_csv_rows(statement),
            )
        return Response(CreditStatementSerializer(statement).data)
