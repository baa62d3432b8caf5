from django.urls import path

from knowledge_base.api import version_views

urlpatterns = [
    path(
        "uploads/<str:upload_id>/versions/",
        version_views.UploadVersionListApi.as_view(),
        name="api-kb-upload-versions",
    ),
    path(
        "uploads/<str:upload_id>/versions/<str:number>/restore/",
        version_views.UploadVersionRestoreApi.as_view(),
        name="api-kb-upload-version-restore",
    ),
    path(
        "uploads/<str:upload_id>/versions/<str:number>/download/",
        version_views.UploadVersionDownloadApi.as_view(),
        name="api-kb-upload-version-download",
    ),
]
