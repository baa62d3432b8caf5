from django.urls import include, path

from admin_ops import views

app_name = "admin_ops"

urlpatterns = [
    path("", views.index, name="index"),
    path("", include("admin_ops.purge_urls")),
    path("", include("admin_ops.governance_urls")),
]
