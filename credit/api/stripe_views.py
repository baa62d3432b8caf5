"""Stripe endpoints: save a card (SetupIntent), charge the saved card for a
pending payment, and the webhook Stripe calls."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from credit.api.stripe_serializers import (
    CollectedTransactionSerializer,
    SetupIntentInputSerializer,
    SetupIntentOutputSerializer,
    WebhookOutputSerializer,
)
from credit.selectors.transactions import transaction_get
from credit.services import payments
from deelrx.api import TEAM_ID_PARAMETER, TeamScopedMixin, error_responses
from deelrx.tenancy.models import Role
from deelrx.tenancy.selectors import customer_get


class SetupIntentApi(TeamScopedMixin, APIView):
    required_roles = {"POST": Role.MEMBER}

    @extend_schema(
        operation_id="credit_setup_intent_create",
        parameters=[TEAM_ID_PARAMETER],
        request=SetupIntentInputSerializer,
        responses={200: SetupIntentOutputSerializer, **error_responses(400, 401, 403, 404, 422, 502, 503)},
        description=(
            "Create (or reuse) the account's Stripe customer and a SetupIntent for saving a card for "
            "off-session charges. Confirm it in the browser with Stripe.js and `client_secret`; the "
            "`setup_intent.succeeded` webhook then stores the card on the account. 503 "
            "`payments_not_configured` when the server has no Stripe keys; 502 `payment_provider_error` "
            "when Stripe cannot be reached after retries."
        ),
    )
    def post(self, request, team_id):
        data = SetupIntentInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        customer = customer_get(team=self.team, customer_id=data.validated_data["customer_id"])
        result = payments.setup_intent_create(team=self.team, customer=customer, user=request.user)
        return Response(SetupIntentOutputSerializer(result).data)


class TransactionCollectApi(TeamScopedMixin, APIView):
    required_roles = {"POST": Role.ADMIN}

    @extend_schema(
        operation_id="credit_transaction_collect",
        parameters=[TEAM_ID_PARAMETER, OpenApiParameter("transaction_id", str, OpenApiParameter.PATH)],
        request=None,
        responses={200: CollectedTransactionSerializer, **error_responses(401, 403, 404, 409, 422, 502, 503)},
        description=(
            "Charge the account's saved card for a pending payment (off-session PaymentIntent). "
            "Succeeded: the payment is completed; declined: failed; still processing: stays pending "
            "until the webhook. 409 `invalid_transition` when the payment is not pending, 409 "
            "`payment_in_progress` while an earlier attempt may still be running, 422 "
            "`not_a_payment` / `no_saved_payment_method`, 502 `payment_provider_error`."
        ),
    )
    def post(self, request, team_id, transaction_id):
        txn = transaction_get(team=self.team, transaction_id=transaction_id)
        txn = payments.saved_card_charge(transaction=txn, user=request.user)
        txn = transaction_get(team=self.team, transaction_id=txn.pk)
        return Response(CollectedTransactionSerializer(txn).data)


class StripeWebhookApi(APIView):
    # Stripe authenticates with the signature, not a session or token (so no CSRF),
    # and a burst of events must not be throttled.
    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = []

    @extend_schema(
        operation_id="stripe_webhook",
        request={"application/json": {"type": "object", "description": "A Stripe event, verbatim."}},
        parameters=[
            OpenApiParameter("Stripe-Signature", str, OpenApiParameter.HEADER, required=True),
        ],
        responses={200: WebhookOutputSerializer, **error_responses(400, 413, 503)},
        description=(
            "Stripe's webhook. Verified with `STRIPE_WEBHOOK_SECRET`, its timestamp at most 5 minutes "
            "from now either way (400 `invalid_signature`); a body that breaks the API's input rules "
            "is 400 `invalid_payload`. Each event id is applied once; replays answer 200 `duplicate`. "
            "Handled: `setup_intent.succeeded` (only for SetupIntents this app created: its metadata names "
            "the account and team, its customer is the account's), `payment_intent.succeeded`, "
            "`payment_intent.payment_failed`; other types, and events not for this app, answer 200 `ignored`."
        ),
    )
    def post(self, request):
        # The raw body: the signature covers the exact bytes Stripe sent.
        outcome = payments.webhook_event_process(
            payload=request.body, signature=request.headers.get("Stripe-Signature", "")
        )
        return Response({"received": True, "outcome": outcome})
