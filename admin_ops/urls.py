"""Staff pages under /ops/ (DESIGN §8): index, purges, activity log, inactivity,
blob browser (superusers), jobs."""

from django.urls import path

from admin_ops import views
from admin_ops.views import governance
from admin_ops.views import purge as purge_views

app_name = "admin_ops"

urlpatterns = [
    path("", views.index, name="index"),
    # Purges
    path("purges/", purge_views.purge_list, name="purge-list"),
    path("purges/new/", purge_views.purge_create, name="purge-create"),
    path("purges/<uuid:purge_id>/", purge_views.purge_detail, name="purge-detail"),
    path("purges/<uuid:purge_id>/export/", purge_views.purge_export, name="purge-export"),
    path(
        "purges/<uuid:purge_id>/acknowledge/",
        purge_views.purge_action,
        {"action": "acknowledge"},
        name="purge-acknowledge",
    ),
    path("purges/<uuid:purge_id>/cancel/", purge_views.purge_action, {"action": "cancel"}, name="purge-cancel"),
    # Activity log
    path("activity/", governance.activity_log, name="activity-log"),
    path("activity/export.csv", governance.activity_export, name="activity-export"),
    # Inactivity
    path("inactivity/", governance.inactivity_policy_list, name="inactivity-policy-list"),
    path("inactivity/new/", governance.inactivity_policy_create, name="inactivity-policy-create"),
    path("inactivity/<uuid:policy_id>/edit/", governance.inactivity_policy_edit, name="inactivity-policy-edit"),
    path("inactivity/<uuid:policy_id>/delete/", governance.inactivity_policy_delete, name="inactivity-policy-delete"),
    path("inactivity/trackers/", governance.inactivity_tracker_list, name="inactivity-tracker-list"),
    path(
        "inactivity/trackers/<int:tracker_id>/reinstate/",
        governance.inactivity_tracker_reinstate,
        name="inactivity-tracker-reinstate",
    ),
    # File stores (superusers)
    path("blobs/", governance.blob_list, name="blob-list"),
    path("blobs/migrate/", governance.blob_migrate, name="blob-migrate"),
    path("blobs/delete/", governance.blob_delete, name="blob-delete"),
    # Jobs
    path("jobs/", governance.job_list, name="job-list"),
    path("jobs/<slug:name>/run/", governance.job_run, name="job-run"),
]
