from django.urls import path

from knowledge_base import views

app_name = "knowledge_base"

urlpatterns = [
    path("", views.article_list, name="index"),
    path("new/", views.article_create, name="article-create"),
    path("preview/", views.preview, name="preview"),
    path("review/", views.review_queue, name="review-queue"),
    path("links/", views.link_report, name="link-report"),
    path("proposals/<uuid:proposal_id>/", views.proposal_detail, name="proposal-detail"),
    path("<uuid:article_id>/", views.article_detail, name="article-detail"),
    path("<uuid:article_id>/edit/", views.article_edit, name="article-edit"),
    path("<uuid:article_id>/delete/", views.article_delete, name="article-delete"),
    path("<uuid:article_id>/status/", views.article_transition, name="article-transition"),
    path("<uuid:article_id>/attachments/", views.attachment_upload, name="attachment-upload"),
    path(
        "<uuid:article_id>/attachments/<uuid:upload_id>/replace/",
        views.attachment_replace,
        name="attachment-replace",
    ),
    path(
        "<uuid:article_id>/attachments/<uuid:upload_id>/versions/<int:number>/restore/",
        views.attachment_version_restore,
        name="attachment-version-restore",
    ),
    path("<uuid:article_id>/history/", views.article_history, name="article-history"),
    path("<uuid:article_id>/propose/", views.article_propose, name="article-propose"),
]
