from django.urls import path

from knowledge_base.api import proposal_views as views

urlpatterns = [
    path(
        "articles/<str:article_id>/proposals/",
        views.ArticleProposalCreateApi.as_view(),
        name="api-kb-article-proposals",
    ),
    path("proposals/", views.ProposalListApi.as_view(), name="api-kb-proposal-list"),
    path("proposals/<str:proposal_id>/", views.ProposalDetailApi.as_view(), name="api-kb-proposal-detail"),
]
