"""Proposed edits API (issue 11): the staff pages' propose / accept / decline, over REST.
Thin: parse, call the proposals selector or service, serialize. The article's team sees
its proposals (viewers included); members propose edits of published articles; admins
and owners accept or decline; anyone else gets 404."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from deelrx.api import error_responses, page_of, paginated_response
from deelrx.tenancy.access import get_team_access
from deelrx.tenancy.models import Role
from knowledge_base.api.proposal_serializers import (
    ProposalCreateInputSerializer,
    ProposalDecisionInputSerializer,
    ProposalOutputSerializer,
)
from knowledge_base.api.views import ARTICLE_ID_PARAMETER
from knowledge_base.models import KbProposal
from knowledge_base.selectors import articles as article_selectors
from knowledge_base.selectors import proposals as selectors
from knowledge_base.services import proposals as services

PROPOSAL_ID_PARAMETER = OpenApiParameter("proposal_id", OpenApiTypes.UUID, OpenApiParameter.PATH)


class ProposalListApi(APIView):
    @extend_schema(
        operation_id="help_proposals_list",
        parameters=[
            OpenApiParameter(
                "team_id", int, description="Only this team's proposals (you must be a member, else 404)."
            ),
            OpenApiParameter("article_id", OpenApiTypes.UUID),
            OpenApiParameter("status", str, enum=[s.value for s in KbProposal.Status]),
        ],
        responses={200: page_of(ProposalOutputSerializer), **error_responses(400, 401, 403, 404)},
    )
    def get(self, request):
        team_id = request.query_params.get("team_id")
        if team_id not in (None, ""):
            get_team_access(request.user, team_id, min_role=Role.VIEWER)  # decision 5: 404 unless a member
        return paginated_response(
            request=request,
            view=self,
            queryset=selectors.proposal_list_for_user(user=request.user, filters=request.query_params),
            serializer_class=ProposalOutputSerializer,
        )


class ArticleProposalCreateApi(APIView):
    @extend_schema(
        operation_id="help_article_proposals_create",
        parameters=[ARTICLE_ID_PARAMETER],
        request=ProposalCreateInputSerializer,
        responses={201: ProposalOutputSerializer, **error_responses(400, 401, 403, 404, 409)},
        description="Propose an edit of a published article (member+); a draft is edited directly (409).",
    )
    def post(self, request, article_id):
        article = article_selectors.article_get_for_user(user=request.user, article_id=article_id)
        data = ProposalCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        proposal = services.proposal_create(article=article, user=request.user, **data.validated_data)
        return Response(ProposalOutputSerializer(proposal).data, status=status.HTTP_201_CREATED)


class ProposalDetailApi(APIView):
    def get_proposal(self, proposal_id) -> KbProposal:
        return selectors.proposal_get_for_user(user=self.request.user, proposal_id=proposal_id)

    @extend_schema(
        operation_id="help_proposals_retrieve",
        parameters=[PROPOSAL_ID_PARAMETER],
        responses={200: ProposalOutputSerializer, **error_responses(401, 403, 404)},
    )
    def get(self, request, proposal_id):
        return Response(ProposalOutputSerializer(self.get_proposal(proposal_id)).data)

    @extend_schema(
        operation_id="help_proposals_decide",
        parameters=[PROPOSAL_ID_PARAMETER],
        request=ProposalDecisionInputSerializer,
        responses={200: ProposalOutputSerializer, **error_responses(400, 401, 403, 404, 409)},
        description='Accept (`{"status": "accepted"}`) or decline (`{"status": "declined", "note": …}`) a '
        "pending proposal (admin+); a decided one is 409 `invalid_transition`.",
    )
    def patch(self, request, proposal_id):
        proposal = self.get_proposal(proposal_id)
        data = ProposalDecisionInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        decide = (
            services.proposal_accept
            if data.validated_data["status"] == KbProposal.Status.ACCEPTED
            else services.proposal_decline
        )
        proposal = decide(proposal=proposal, user=request.user, note=data.validated_data["note"])
        return Response(ProposalOutputSerializer(proposal).data)
