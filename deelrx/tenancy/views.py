from __future__ import annotations

import mimetypes
import os

from django.contrib import messages
from django.db.models import Q
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render

from deelrx.errors import DomainError
from deelrx.storage import INLINE_UNSAFE_TYPES, public_storage
from deelrx.tenancy import selectors, services
from deelrx.tenancy.forms import CustomerForm, MemberAddForm
from deelrx.tenancy.models import Role, User
from deelrx.web import add_domain_error_to_form, is_htmx, paginate, team_view


@team_view()
def customer_list(request):
    customers = selectors.customer_list(team=request.team_access.team, filters={"q": request.GET.get("q", "")})
    page = paginate(request, customers)
    template = "tenancy/_customer_rows.html" if is_htmx(request) else "tenancy/customer_list.html"
    return render(request, template, {"page": page, "q": request.GET.get("q", "")})


@team_view(write_role=Role.MEMBER)
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


@team_view(write_role=Role.MEMBER)
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
    return render(
        request,
        "tenancy/member_list.html",
        {"memberships": selectors.membership_list(team=team), "form": form},
    )


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
