from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from deelrx.admin_audit import AuditedModelAdmin
from deelrx.tenancy.models import Customer, Membership, Team, User


@admin.register(User)
class UserAdmin(AuditedModelAdmin, DjangoUserAdmin):
    list_display = ["username", "email", "first_name", "last_name", "is_staff", "is_superuser", "last_login"]


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]
    readonly_fields = ["suspended_at", "created_at"]


@admin.register(Team)
class TeamAdmin(AuditedModelAdmin):
    list_display = ["name", "slug", "activity_retention_days", "created_at"]
    search_fields = ["name", "slug"]
    readonly_fields = ["created_at", "updated_at"]
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(AuditedModelAdmin):
    list_display = ["user", "team", "role", "is_suspended", "created_at"]
    list_filter = ["role", "is_suspended", "team"]
    search_fields = ["user__username", "user__email", "team__name"]
    list_select_related = ["user", "team"]
    readonly_fields = ["suspended_at", "created_at", "updated_at"]


@admin.register(Customer)
class CustomerAdmin(AuditedModelAdmin):
    list_display = ["__str__", "team", "email", "phone", "is_active", "created_at"]
    list_filter = ["is_active", "team"]
    search_fields = ["first_name", "last_name", "email", "phone"]
    list_select_related = ["team"]
    readonly_fields = ["id", "created_at", "updated_at"]
