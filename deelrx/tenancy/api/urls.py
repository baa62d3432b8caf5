from django.urls import path

from deelrx.tenancy.api import views

urlpatterns = [
    path("teams/", views.TeamListCreateApi.as_view(), name="api-team-list"),
    path("teams/<int:team_id>/", views.TeamDetailApi.as_view(), name="api-team-detail"),
    path("teams/<int:team_id>/members/", views.MemberListCreateApi.as_view(), name="api-team-members"),
    path(
        "teams/<int:team_id>/members/<int:user_id>/",
        views.MemberDetailApi.as_view(),
        name="api-team-member-detail",
    ),
    path("teams/<int:team_id>/customers/", views.CustomerListCreateApi.as_view(), name="api-customer-list"),
    path(
        "teams/<int:team_id>/customers/<str:customer_id>/",
        views.CustomerDetailApi.as_view(),
        name="api-customer-detail",
    ),
]
