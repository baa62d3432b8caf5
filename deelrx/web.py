"""HTML view helpers shared by the three apps: team resolution, domain errors
mapped to 404/403 pages and to form errors. The browser follows the same
rules as the API because both call the same access checks and services."""

from __future__ import annotations

import functools

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.paginator import Paginator
from django.http import Http404

from deelrx.errors import DomainError, NotFound, PermissionDenied
from deelrx.tenancy.access import TeamAccess, get_team_access
from deelrx.tenancy.models import Role


def resolve_team_access(request, *, min_role: str = Role.VIEWER) -> TeamAccess:
    team_id = request.get_current_team_id()
    if team_id is None:
        raise Http404("You are not a member of any team yet.")
    try:
        return get_team_access(request.user, team_id, min_role=min_role)
    except NotFound as exc:
        raise Http404(exc.message) from None
    except PermissionDenied as exc:
        raise DjangoPermissionDenied(exc.message) from None


def team_view(min_role: str = Role.VIEWER, *, write_role: str | None = None):
    """Decorate an HTML view working in the current team.

    `min_role` guards every request; `write_role` (default: member) guards
    POST/PUT/PATCH/DELETE. Sets `request.team_access`.
    """

    def decorator(view):
        @login_required
        @functools.wraps(view)
        def wrapper(request, *args, **kwargs):
            needed = min_role
            if request.method not in ("GET", "HEAD", "OPTIONS"):
                needed = write_role or (min_role if min_role != Role.VIEWER else Role.MEMBER)
            request.team_access = resolve_team_access(request, min_role=needed)
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


def add_domain_error_to_form(form, exc: DomainError) -> None:
    """Show a service's refusal on the form that caused it."""
    if exc.details and all(isinstance(v, list) for v in exc.details.values()):
        for field, messages in exc.details.items():
            target = field if field in form.fields else None
            for message in messages:
                form.add_error(target, message)
    else:
        form.add_error(None, exc.message)


def paginate(request, queryset, *, per_page: int = 25):
    paginator = Paginator(queryset, per_page)
    return paginator.get_page(request.GET.get("page"))


def is_htmx(request) -> bool:
    return request.headers.get("HX-Request") == "true"
