from django.urls import include, path

from credit.api import views

urlpatterns: list = [
    path("teams/<int:team_id>/credit/", views.CreditApi.as_view(), name="api-credit"),
    path(
        "teams/<int:team_id>/credit/transactions/",
        views.CreditTransactionListApi.as_view(),
        name="api-credit-transactions",
    ),
    path(
        "teams/<int:team_id>/credit/transactions/<str:transaction_id>/",
        views.CreditTransactionDetailApi.as_view(),
        name="api-credit-transaction-detail",
    ),
    path("teams/<int:team_id>/credit/statement/", views.CreditStatementApi.as_view(), name="api-credit-statement"),
    path("", include("credit.api.stripe_urls")),
]
