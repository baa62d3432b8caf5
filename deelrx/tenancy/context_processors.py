def current_team(request):
    """The team switcher's data, for every page."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    from deelrx.tenancy.access import teams_for

    access = getattr(request, "team_access", None)
    return {
        "user_teams": list(teams_for(user).order_by("name", "id")),
        "current_team": access.team if access else None,
        "team_role": access.role if access else None,
        "team_access": access,
    }
