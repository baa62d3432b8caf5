from django.urls import path

from reports.api import views

urlpatterns: list = [
    path("teams/<int:team_id>/reports/credit/", views.CreditReportApi.as_view(), name="api-reports-credit"),
    path(
        "teams/<int:team_id>/reports/knowledge-base/",
        views.KnowledgeBaseReportApi.as_view(),
        name="api-reports-knowledge-base",
    ),
    path("teams/<int:team_id>/reports/activity/", views.ActivityReportApi.as_view(), name="api-reports-activity"),
]
