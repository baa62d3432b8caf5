from django.urls import path

from reports import views

app_name = "reports"

urlpatterns = [
    path("", views.reports_index, name="index"),
    path("credit/", views.credit_report_page, name="credit"),
    path("knowledge-base/", views.knowledge_base_report_page, name="knowledge-base"),
    path("activity/", views.activity_report_page, name="activity"),
]
