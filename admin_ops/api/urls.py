"""/api/admin/… (DESIGN §8). Ids that are not uuids are matched as strings so that
the selectors answer 404 in the API's error shape."""

from django.urls import path

from admin_ops.api import governance_views as views
from admin_ops.api import purge_views

urlpatterns = [
    # Purges
    path("purge/", purge_views.PurgeListCreateApi.as_view(), name="api-purge-list"),
    path("purge/<str:purge_id>/", purge_views.PurgeDetailApi.as_view(), name="api-purge-detail"),
    path("purge/<str:purge_id>/acknowledge/", purge_views.PurgeAcknowledgeApi.as_view(), name="api-purge-acknowledge"),
    path("purge/<str:purge_id>/cancel/", purge_views.PurgeCancelApi.as_view(), name="api-purge-cancel"),
    path("purge/<str:purge_id>/export/", purge_views.PurgeExportApi.as_view(), name="api-purge-export"),
    # Activity log
    path("activity/", views.ActivityListApi.as_view(), name="admin-activity-list"),
    # Inactivity (trackers before <policy_id>, which would match "trackers")
    path("inactivity/", views.InactivityPolicyListCreateApi.as_view(), name="admin-inactivity-list"),
    path("inactivity/trackers/", views.InactivityTrackerListApi.as_view(), name="admin-inactivity-tracker-list"),
    path(
        "inactivity/trackers/<int:tracker_id>/reinstate/",
        views.InactivityTrackerReinstateApi.as_view(),
        name="admin-inactivity-tracker-reinstate",
    ),
    path("inactivity/<str:policy_id>/", views.InactivityPolicyDetailApi.as_view(), name="admin-inactivity-detail"),
    # Blob manager (superusers)
    path("blob-management/", views.BlobManagementApi.as_view(), name="admin-blob-management"),
]
