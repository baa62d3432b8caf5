"""Project-level pages: the dashboard, the team switcher and error pages."""

from __future__ import annotations

from importlib import import_module

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import RequestDataTooBig
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from deelrx.api import error_body, is_api_request
from deelrx.inputs import parse_id
from deelrx.tenancy.access import teams_for
from deelrx.tenancy.models import Role
from deelrx.web import resolve_team_access

# Each app may contribute a dashboard section: <app>.selectors.dashboard.dashboard_section(team=...)
# returning a context dict for "<app>/_dashboard.html", or None.
DASHBOARD_APPS = ("credit", "knowledge_base", "admin_ops")
# A section shown only to a role (the admin statistics are for those who act on them).
DASHBOARD_MIN_ROLE = {"admin_ops": Role.ADMIN}


def favicon(request):
    # The static URL is looked up per request: with the manifest storage it exists
    # only after collectstatic, not when the URLconf is imported (check --deploy).
    return redirect(static("favicon.svg"), permanent=True)


def dashboard_sections(team, access=None) -> list[dict]:
    sections = []
    for app in DASHBOARD_APPS:
        min_role = DASHBOARD_MIN_ROLE.get(app)
        if min_role and access is not None and not access.has_role(min_role):
            continue  # not computed either
        context = import_module(f"{app}.selectors.dashboard").dashboard_section(team=team)
        if context is not None:
            sections.append({"template": f"{app}/_dashboard.html", "context": context})
    return sections


@login_required
def dashboard(request):
    if request.get_current_team_id() is None:
        return render(request, "dashboard_no_team.html")
    access = resolve_team_access(request)
    request.team_access = access
    team = access.team
    counts = {
        "members": team.memberships.count(),
        "customers": team.customers.count(),
        "active_customers": team.customers.filter(is_active=True).count(),
    }
    return render(
        request,
        "dashboard.html",
        {"counts": counts, "sections": dashboard_sections(team, access)},
    )


@login_required
@require_POST
def switch_team(request):
    team_id = parse_id(request.POST.get("team_id", ""))
    if team_id is None or not teams_for(request.user).filter(pk=team_id).exists():
        raise Http404("Team not found.")
    request.session["team_id"] = team_id
    messages.success(request, "Switched team.")
    target = request.POST.get("next") or "/"
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = "/"
    return redirect(target)


def _error_page(request, status: int, code: str, message: str, template: str):
    if is_api_request(request):
        return JsonResponse(error_body(code, message), status=status)
    return render(request, template, {"message": message}, status=status)


def bad_request(request, exception=None):
    if isinstance(exception, RequestDataTooBig):  # a form body past DATA_UPLOAD_MAX_MEMORY_SIZE
        return _error_page(
            request, 413, "request_too_large", "The request body is larger than the server accepts.", "413.html"
        )
    return _error_page(request, 400, "bad_request", "Bad request.", "400.html")


def permission_denied(request, exception=None):
    message = str(exception) if exception and str(exception) else "You do not have permission to see this page."
    return _error_page(request, 403, "permission_denied", message, "403.html")


def page_not_found(request, exception=None):
    return _error_page(request, 404, "not_found", "Not found.", "404.html")


def api_not_found(request, *args, **kwargs):
    return _error_page(request, 404, "not_found", "No API endpoint at this URL.", "404.html")


def server_error(request):
    return _error_page(request, 500, "server_error", "An unexpected error occurred.", "500.html")


def csrf_failure(request, reason=""):
    return _error_page(
        request, 403, "csrf_failed", "The form expired or the CSRF token is missing. Reload and try again.", "403.html"
    )
