from django.urls import path

from admin_ops.views import governance

urlpatterns = [
    path("activity/", governance.activity_log, name="activity-log"),
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
    path("blobs/", governance.blob_list, name="blob-list"),
    path("blobs/migrate/", governance.blob_migrate, name="blob-migrate"),
    path("blobs/delete/", governance.blob_delete, name="blob-delete"),
    path("jobs/", governance.job_list, name="job-list"),
    path("jobs/<slug:name>/run/", governance.job_run, name="job-run"),
]
