from django.db.models import Q
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from deelrx.api import PagePagination, TeamScopedMixin, error_responses, page_of, paginated_response
from deelrx.errors import ValidationFailed
from deelrx.tenancy import selectors, services
from deelrx.tenancy.api.serializers import (
    CustomerInputSerializer,
    CustomerOutputSerializer,
    MembershipInputSerializer,
    MembershipOutputSerializer,
    MembershipRoleSerializer,
    TeamInputSerializer,
    TeamOutputSerializer,
)
from deelrx.tenancy.models import Role, User


class TeamListCreateApi(APIView):
    @extend_schema(operation_id="teams_list", responses={200: page_of(TeamOutputSerializer), **error_responses(401)})
    def get(self, request):
        return paginated_response(
            request=request,
            view=self,
            queryset=selectors.team_list(user=request.user),
            serializer_class=TeamOutputSerializer,
            pagination_class=PagePagination,
        )

    @extend_schema(request=TeamInputSerializer, responses={201: TeamOutputSerializer, **error_responses(400, 401)})
    def post(self, request):
        data = TeamInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        team = services.team_create(name=data.validated_data["name"], creator=request.user)
        return Response(TeamOutputSerializer(team).data, status=status.HTTP_201_CREATED)


class TeamDetailApi(TeamScopedMixin, APIView):
    @extend_schema(responses={200: TeamOutputSerializer, **error_responses(401, 404)})
    def get(self, request, team_id):
        return Response(TeamOutputSerializer(self.team).data)


class MemberListCreateApi(TeamScopedMixin, APIView):
    required_roles = {"POST": Role.ADMIN}

    @extend_schema(
        operation_id="team_members_list",
        responses={200: page_of(MembershipOutputSerializer), **error_responses(401, 404)},
    )
    def get(self, request, team_id):
        return paginated_response(
            request=request,
            view=self,
            queryset=selectors.membership_list(team=self.team),
            serializer_class=MembershipOutputSerializer,
        )

    @extend_schema(
        request=MembershipInputSerializer,
        responses={201: MembershipOutputSerializer, **error_responses(400, 401, 403, 404, 409)},
    )
    def post(self, request, team_id):
        data = MembershipInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        lookup = data.validated_data
        field = "username" if lookup.get("username") else "email"
        users = User.objects.filter(
            Q(username__iexact=lookup["username"]) if field == "username" else Q(email__iexact=lookup["email"]),
            is_active=True,
        )[:2]
        if len(users) != 1:
            raise ValidationFailed(details={field: ["No single active user matches this value."]})
        membership = services.membership_add(team=self.team, actor=request.user, user=users[0], role=lookup["role"])
        return Response(MembershipOutputSerializer(membership).data, status=status.HTTP_201_CREATED)


class MemberDetailApi(TeamScopedMixin, APIView):
    """One member, named by user id. Changing a role or removing someone goes through the
    services the Team page uses: admins and owners may; only an owner touches an owner or
    makes one; the team's last owner is neither demoted nor removed (409 `last_owner`)."""

    required_roles = {"PATCH": Role.ADMIN, "DELETE": Role.ADMIN}

    def get_membership(self, user_id):
        return selectors.membership_get_by_user(team=self.team, user_id=user_id)

    @extend_schema(
        operation_id="team_member_get", responses={200: MembershipOutputSerializer, **error_responses(401, 404)}
    )
    def get(self, request, team_id, user_id):
        return Response(MembershipOutputSerializer(self.get_membership(user_id)).data)

    @extend_schema(
        operation_id="team_member_role_set",
        request=MembershipRoleSerializer,
        responses={200: MembershipOutputSerializer, **error_responses(400, 401, 403, 404, 409)},
    )
    def patch(self, request, team_id, user_id):
        membership = self.get_membership(user_id)
        data = MembershipRoleSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        membership = services.membership_set_role(
            membership=membership, role=data.validated_data["role"], actor=request.user
        )
        return Response(MembershipOutputSerializer(membership).data)

    @extend_schema(operation_id="team_member_remove", responses={204: None, **error_responses(401, 403, 404, 409)})
    def delete(self, request, team_id, user_id):
        services.membership_remove(membership=self.get_membership(user_id), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class CustomerListCreateApi(TeamScopedMixin, APIView):
    @extend_schema(
        operation_id="team_customers_list",
        parameters=[
            OpenApiParameter("q", str, description="Name, email or phone contains"),
            OpenApiParameter("is_active", bool),
        ],
        responses={200: page_of(CustomerOutputSerializer), **error_responses(400, 401, 404)},
    )
    def get(self, request, team_id):
        return paginated_response(
            request=request,
            view=self,
            queryset=selectors.customer_list(team=self.team, filters=request.query_params),
            serializer_class=CustomerOutputSerializer,
        )

    @extend_schema(
        request=CustomerInputSerializer,
        responses={201: CustomerOutputSerializer, **error_responses(400, 401, 403, 404)},
    )
    def post(self, request, team_id):
        data = CustomerInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        customer = services.customer_create(team=self.team, actor=request.user, **data.validated_data)
        return Response(CustomerOutputSerializer(customer).data, status=status.HTTP_201_CREATED)


class CustomerDetailApi(TeamScopedMixin, APIView):
    required_roles = {"DELETE": Role.ADMIN}

    def get_customer(self, customer_id):
        return selectors.customer_get(team=self.team, customer_id=customer_id)

    @extend_schema(responses={200: CustomerOutputSerializer, **error_responses(401, 404)})
    def get(self, request, team_id, customer_id):
        return Response(CustomerOutputSerializer(self.get_customer(customer_id)).data)

    @extend_schema(
        request=CustomerInputSerializer(partial=True),
        responses={200: CustomerOutputSerializer, **error_responses(400, 401, 403, 404)},
    )
    def patch(self, request, team_id, customer_id):
        customer = self.get_customer(customer_id)
        data = CustomerInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        customer = services.customer_update(customer=customer, actor=request.user, **data.validated_data)
        return Response(CustomerOutputSerializer(customer).data)

    @extend_schema(responses={204: None, **error_responses(401, 403, 404, 409)})
    def delete(self, request, team_id, customer_id):
        services.customer_delete(customer=self.get_customer(customer_id), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
