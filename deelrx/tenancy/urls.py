from django.urls import path

from deelrx.tenancy import views

app_name = "tenancy"

urlpatterns = [
    path("customers/", views.customer_list, name="customer-list"),
    path("customers/new/", views.customer_create, name="customer-create"),
    path("customers/<uuid:customer_id>/", views.customer_edit, name="customer-edit"),
    path("members/", views.member_list, name="member-list"),
    path("members/<int:membership_id>/role/", views.member_role, name="member-role"),
    path("members/<int:membership_id>/remove/", views.member_remove, name="member-remove"),
]
