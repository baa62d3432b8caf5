from django.urls import path

from admin_ops.api import governance_views as views

urlpatterns = [
    path("activity/", views.ActivityListApi.as_view(), name="admin-activity-list"),
    path("inactivity/", views.InactivityPolicyListCreateApi.as_view(), name="admin-inactivity-list"),
    path(
        "inactivity/trackers/",
        views.InactivityTrackerListApi.as_view(),
        name="admin-inactivity-tracker-list",
    ),
    path(
        "inactivity/trackers/<int:tracker_id>/reinstate/",
        views.InactivityTrackerReinstateApi.as_view(),
        name="admin-inactivity-tracker-reinstate",
    ),
    path("blob-management/", views.BlobManagementApi.as_view(), name="admin-blob-management"),
    path("inactivity/<str:policy_id>/", views.InactivityPolicyDetailApi.as_view(), name="admin-inactivity-detail"),
]
