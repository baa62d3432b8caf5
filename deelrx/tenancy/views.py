from __future__ import annotations

import mimetypes
import os

from django.contrib import messages
from django.db.models import Q
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from deelrx.errors import DomainError
from deelrx.storage import INLINE_UNSAFE_TYPES, public_storage
from deelrx.tenancy import selectors, services
from deelrx.tenancy.forms import CustomerForm, MemberAddForm, MemberRoleForm
from deelrx.tenancy.models import Membership, Role, User
from deelrx.web import (
    add_domain_error_to_form,
    domain_error_text,
    paginate,
    team_view,
    vary_on_htmx,
    wants_partial,
)


@team_view()
def customer_list(request):
    customers = selectors.customer_list(team=request.team_access.team, filters={"q": request.GET.get("q", "")})
    page = paginate(request, customers)
    # an htmx swap gets the rows; a history restore (Back after a live search) the whole page
    template = "tenancy/_customer_rows.html" if wants_partial(request) else "tenancy/customer_list.html"
    return vary_on_htmx(render(request, template, {"page": page, "q": request.GET.get("q", "")}))


@team_view(min_role=Role.MEMBER)  # a viewer is not shown a form he cannot send
def customer_create(request):
    form = CustomerForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            customer = services.customer_create(team=request.team_access.team, actor=request.user, **form.cleaned_data)
        except DomainError as exc:
            add_domain_error_to_form(form, exc)
        else:
            messages.success(request, f"Customer {customer.full_name} added.")
            return redirect("tenancy:customer-list")
    return render(request, "tenancy/customer_form.html", {"form": form, "customer": None})


@team_view(min_role=Role.MEMBER)
def customer_edit(request, customer_id):
    customer = _customer_or_404(request, customer_id)
    form = CustomerForm(request.POST or None, instance=customer)
    if request.method == "POST" and form.is_valid():
        try:
            services.customer_update(customer=customer, actor=request.user, **form.cleaned_data)
        except DomainError as exc:
            add_domain_error_to_form(form, exc)
        else:
            messages.success(request, "Customer saved.")
            return redirect("tenancy:customer-list")
    return render(request, "tenancy/customer_form.html", {"form": form, "customer": customer})


def _customer_or_404(request, customer_id):
    try:
        return selectors.customer_get(team=request.team_access.team, customer_id=customer_id)
    except DomainError:
        raise Http404("Customer not found.") from None


@team_view(write_role=Role.ADMIN)
def member_list(request):
    team = request.team_access.team
    form = MemberAddForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        value = form.cleaned_data["username_or_email"].strip()
        users = list(User.objects.filter(Q(username__iexact=value) | Q(email__iexact=value), is_active=True)[:2])
        if len(users) != 1:
            form.add_error("username_or_email", "No single active user matches this value.")
        else:
            try:
                services.membership_add(team=team, actor=request.user, user=users[0], role=form.cleaned_data["role"])
            except DomainError as exc:
                add_domain_error_to_form(form, exc)
            else:
                messages.success(request, f"{users[0].username} added to {team.name}.")
                return redirect("tenancy:member-list")
    memberships = list(selectors.membership_list(team=team))
    access = request.team_access
    for membership in memberships:
        # what this page offers on each row: the service checks the same rules again
        membership.changeable = access.can_manage and (membership.role != Role.OWNER or access.role == Role.OWNER)
    return render(
        request,
        "tenancy/member_list.html",
        {
            "memberships": memberships,
            "form": form,
            # only an owner makes an owner
            "role_choices": [c for c in Role.choices if c[0] != Role.OWNER or access.role == Role.OWNER],
        },
    )


def _membership_or_404(request, membership_id) -> Membership:
    try:
        return selectors.membership_get(team=request.team_access.team, membership_id=membership_id)
    except DomainError:
        raise Http404("Member not found.") from None


@require_POST
@team_view(write_role=Role.ADMIN)
def member_role(request, membership_id):
    membership = _membership_or_404(request, membership_id)
    form = MemberRoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a role: owner, admin, member or viewer.")
        return redirect("tenancy:member-list")
    try:
        membership = services.membership_set_role(
            membership=membership, role=form.cleaned_data["role"], actor=request.user
        )
    except DomainError as exc:
        messages.error(request, domain_error_text(exc))
    else:
        messages.success(request, f"{membership.user.username} is now {membership.role}.")
    return redirect("tenancy:member-list")


@require_POST
@team_view(write_role=Role.ADMIN)
def member_remove(request, membership_id):
    membership = _membership_or_404(request, membership_id)
    try:
        services.membership_remove(membership=membership, actor=request.user)
    except DomainError as exc:
        messages.error(request, domain_error_text(exc))
        return redirect("tenancy:member-list")
    messages.success(request, f"{membership.user.username} removed from {membership.team.name}.")
    if membership.user_id == request.user.pk and not request.user.is_superuser:
        return redirect("dashboard")  # no longer a member: the team's pages are gone
    return redirect("tenancy:member-list")


def serve_public_file(request, key: str):
    """Public store on disk (development, single machine). Markup types are
    served as downloads so that uploaded SVG/HTML cannot run in our origin."""
    storage = public_storage()
    # isfile, not exists(): a directory key must be a 404, not an IsADirectoryError.
    if ".." in key.split("/") or not os.path.isfile(storage.path(key)):
        raise Http404("File not found.")
    content_type = mimetypes.guess_type(key)[0] or "application/octet-stream"
    response = FileResponse(
        storage.open(key, "rb"),
        content_type=content_type,
        as_attachment=content_type in INLINE_UNSAFE_TYPES,
        filename=key.rsplit("/", 1)[-1],
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
