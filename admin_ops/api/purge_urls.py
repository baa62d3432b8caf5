from django.urls import path

from admin_ops.api import purge_views as views

urlpatterns = [
    path("purge/", views.PurgeListCreateApi.as_view(), name="api-purge-list"),
    path("purge/<str:purge_id>/", views.PurgeDetailApi.as_view(), name="api-purge-detail"),
    path("purge/<str:purge_id>/acknowledge/", views.PurgeAcknowledgeApi.as_view(), name="api-purge-acknowledge"),
    path("purge/<str:purge_id>/cancel/", views.PurgeCancelApi.as_view(), name="api-purge-cancel"),
    path("purge/<str:purge_id>/export/", views.PurgeExportApi.as_view(), name="api-purge-export"),
]
