from django.urls import include, path

from knowledge_base.api import views

urlpatterns: list = [
    path("articles/", views.ArticleListCreateApi.as_view(), name="api-kb-article-list"),
    path("articles/<str:article_id>/", views.ArticleDetailApi.as_view(), name="api-kb-article-detail"),
    path(
        "articles/<str:article_id>/revisions/",
        views.ArticleRevisionListApi.as_view(),
        name="api-kb-article-revisions",
    ),
    path(
        "articles/<str:article_id>/feedback/",
        views.ArticleFeedbackApi.as_view(),
        name="api-kb-article-feedback",
    ),
    path("", include("knowledge_base.api.upload_urls")),
    path("", include("knowledge_base.api.proposal_urls")),
    path("", include("knowledge_base.api.version_urls")),
]
