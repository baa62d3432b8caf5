from django.urls import include, path

urlpatterns: list = [
    path("", include("admin_ops.api.purge_urls")),
    path("", include("admin_ops.api.governance_urls")),
]
