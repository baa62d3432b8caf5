from django.urls import path

from knowledge_base.api import upload_views

urlpatterns = [
    path("uploads/", upload_views.UploadListCreateApi.as_view(), name="api-kb-upload-list"),
    path("uploads/<str:upload_id>/", upload_views.UploadDetailApi.as_view(), name="api-kb-upload-detail"),
    path(
        "uploads/<str:upload_id>/download/",
        upload_views.UploadDownloadApi.as_view(),
        name="api-kb-upload-download",
    ),
    path(
        "uploads/<str:upload_id>/thumbnail/",
        upload_views.UploadThumbnailApi.as_view(),
        name="api-kb-upload-thumbnail",
    ),
    path(
        "uploads/<str:upload_id>/reprocess/",
        upload_views.UploadReprocessApi.as_view(),
        name="api-kb-upload-reprocess",
    ),
]
