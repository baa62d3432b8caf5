from django.urls import path

from credit.api import stripe_views

urlpatterns = [
    path(
        "teams/<int:team_id>/credit/setup-intent/",
        stripe_views.SetupIntentApi.as_view(),
        name="api-credit-setup-intent",
    ),
    path(
        "teams/<int:team_id>/credit/transactions/<str:transaction_id>/collect/",
        stripe_views.TransactionCollectApi.as_view(),
        name="api-credit-transaction-collect",
    ),
    path("stripe/webhook/", stripe_views.StripeWebhookApi.as_view(), name="api-stripe-webhook"),
]
