from django.urls import path

from credit import views

app_name = "credit"

urlpatterns = [
    path("", views.account_list_view, name="index"),
    path("accounts/new/", views.account_create, name="account-create"),
    path("accounts/<uuid:account_id>/", views.account_detail, name="account-detail"),
    path("accounts/<uuid:account_id>/transactions/", views.transaction_create, name="transaction-create"),
    path(
        "accounts/<uuid:account_id>/transactions/<uuid:transaction_id>/",
        views.transaction_detail,
        name="transaction-detail",
    ),
    path(
        "accounts/<uuid:account_id>/transactions/<uuid:transaction_id>/status/",
        views.transaction_status,
        name="transaction-status",
    ),
    path(
        "accounts/<uuid:account_id>/transactions/<uuid:transaction_id>/collect/",
        views.transaction_collect,
        name="transaction-collect",
    ),
    path("accounts/<uuid:account_id>/settings/", views.account_settings, name="account-settings"),
    path("accounts/<uuid:account_id>/statement/", views.account_statement, name="account-statement"),
]
