"""Articles API (DESIGN §7). Thin: parse, call a selector or service, serialize."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from deelrx.api import error_responses, page_of, paginated_response, team_access_from_body
from deelrx.searches import search_performed
from deelrx.tenancy.access import get_team_access
from deelrx.tenancy.models import Role
from knowledge_base.api.serializers import (
    ArticleCreateInputSerializer,
    ArticleOutputSerializer,
    ArticleUpdateInputSerializer,
    FeedbackInputSerializer,
    FeedbackOutputSerializer,
    RevisionOutputSerializer,
)
from knowledge_base.filters import ORDERING_CHOICES
from knowledge_base.models import KbArticle
from knowledge_base.selectors import articles as selectors
from knowledge_base.services import articles as services

# The path takes any string (a malformed id is a 404, not a routing miss); documented as a uuid.
ARTICLE_ID_PARAMETER = OpenApiParameter("article_id", OpenApiTypes.UUID, OpenApiParameter.PATH)
LIST_PARAMETERS = [
    OpenApiParameter("team_id", int, description="Only this team's articles (you must be a member, else 404)."),
    OpenApiParameter("status", str, enum=[s.value for s in KbArticle.Status]),
    OpenApiParameter("category", str, description="Exact category."),
    OpenApiParameter("tag", str, description="Articles carrying this tag."),
    OpenApiParameter("is_public", bool),
    OpenApiParameter(
        "q",
        str,
        description='Full-text search (web syntax: "phrase", -exclude, or); ranked, adds `snippet` to each result.',
    ),
    OpenApiParameter(
        "ordering",
        str,
        enum=[value for value, _label in ORDERING_CHOICES],
        description="Default: rank with q, else -updated_at.",
    ),
]


def _search_context(request) -> dict:
    return {"q": (request.query_params.get("q") or "").strip()}


class ArticleListCreateApi(APIView):
    @extend_schema(
        operation_id="help_articles_list",
        parameters=LIST_PARAMETERS,
        responses={200: page_of(ArticleOutputSerializer), **error_responses(400, 401, 404)},
    )
    def get(self, request):
        team_id = request.query_params.get("team_id")
        access = None
        if team_id not in (None, ""):
            # Decision 5: a team id in a query string follows the path rule (404 unless a member).
            access = get_team_access(request.user, team_id, min_role=Role.VIEWER)
        response = paginated_response(
            request=request,
            view=self,
            queryset=selectors.article_list(user=request.user, filters=request.query_params),
            serializer_class=ArticleOutputSerializer,
            context=_search_context(request),
        )
        query = _search_context(request)["q"]
        if query and access is not None and request.query_params.get("page", "") in ("", "1"):
            # A team's search, first page only: kept for the KB report after the response.
            results = response.data.get("results", []) if isinstance(response.data, dict) else []
            search_performed(request, source="api", query=query, result_count=len(results), team_id=access.team.pk)
        return response

    @extend_schema(
        operation_id="help_articles_create",
        request=ArticleCreateInputSerializer,
        responses={201: ArticleOutputSerializer, **error_responses(400, 401, 403, 404)},
    )
    def post(self, request):
        access = team_access_from_body(request, min_role=Role.MEMBER)
        data = ArticleCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        fields.pop("team_id")
        article = services.article_create(team=access.team, user=request.user, **fields)
        return Response(ArticleOutputSerializer(article).data, status=status.HTTP_201_CREATED)


class ArticleDetailApi(APIView):
    def get_article(self, article_id) -> KbArticle:
        return selectors.article_get_for_user(user=self.request.user, article_id=article_id)

    @extend_schema(
        operation_id="help_articles_retrieve",
        parameters=[ARTICLE_ID_PARAMETER],
        responses={200: ArticleOutputSerializer, **error_responses(401, 403, 404)},
    )
    def get(self, request, article_id):
        return Response(ArticleOutputSerializer(self.get_article(article_id)).data)

    def _save(self, request, article_id, *, partial: bool) -> Response:
        article = self.get_article(article_id)
        data = ArticleUpdateInputSerializer(data=request.data, partial=partial)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        article = services.article_edit(
            article=article,
            user=request.user,
            status=fields.pop("status", None),
            note=fields.pop("note", ""),
            **fields,
        )
        return Response(ArticleOutputSerializer(article).data)

    @extend_schema(
        operation_id="help_articles_update",
        parameters=[ARTICLE_ID_PARAMETER],
        request=ArticleUpdateInputSerializer,
        responses={200: ArticleOutputSerializer, **error_responses(400, 401, 403, 404, 409)},
    )
    def put(self, request, article_id):
        return self._save(request, article_id, partial=False)

    @extend_schema(
        operation_id="help_articles_partial_update",
        parameters=[ARTICLE_ID_PARAMETER],
        request=ArticleUpdateInputSerializer(partial=True),
        responses={200: ArticleOutputSerializer, **error_responses(400, 401, 403, 404, 409)},
        description='Edit fields and/or move the workflow with `{"status": ...}` (plus an optional `note`).',
    )
    def patch(self, request, article_id):
        return self._save(request, article_id, partial=True)

    @extend_schema(
        operation_id="help_articles_destroy",
        parameters=[ARTICLE_ID_PARAMETER],
        responses={204: None, **error_responses(401, 403, 404)},
    )
    def delete(self, request, article_id):
        services.article_delete(article=self.get_article(article_id), user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ArticleRevisionListApi(APIView):
    @extend_schema(
        operation_id="help_article_revisions_list",
        parameters=[ARTICLE_ID_PARAMETER],
        responses={200: page_of(RevisionOutputSerializer), **error_responses(400, 401, 403, 404)},
    )
    def get(self, request, article_id):
        article = selectors.article_get_for_user(user=request.user, article_id=article_id)
        return paginated_response(
            request=request,
            view=self,
            queryset=selectors.revision_list_for_user(user=request.user, article=article),
            serializer_class=RevisionOutputSerializer,
        )


class ArticleFeedbackApi(APIView):
    @extend_schema(
        operation_id="help_article_feedback_create",
        parameters=[ARTICLE_ID_PARAMETER],
        request=FeedbackInputSerializer,
        responses={201: FeedbackOutputSerializer, **error_responses(400, 401, 404)},
    )
    def post(self, request, article_id):
        article = selectors.article_get_for_user(user=request.user, article_id=article_id)
        data = FeedbackInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        feedback = services.feedback_create(article=article, user=request.user, **data.validated_data)
        return Response(FeedbackOutputSerializer(feedback).data, status=status.HTTP_201_CREATED)
