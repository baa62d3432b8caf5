def current_team(request):
    """The team switcher's data, for every page."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    from deelrx.tenancy.access import teams_for

    access = getattr(request, "team_access", None)
    current_team_id = getattr(request, "get_current_team_id", lambda: None)
    if access is None and current_team_id() is not None:
        # pages outside a team view (the help center, error pages) still show the
        # navigation the role allows
        access = _current_access(request)
    return {
        "user_teams": list(teams_for(user).order_by("name", "id")),
        "current_team": access.team if access else None,
        "team_role": access.role if access else None,
        "team_access": access,
    }


def _current_access(request):
    from django.core.exceptions import PermissionDenied
    from django.http import Http404

    from deelrx.web import resolve_team_access

    try:
        return resolve_team_access(request)
    except (Http404, PermissionDenied):
        return None
