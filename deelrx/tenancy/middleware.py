"""Which team the browser is working in: the session's choice, else the user's first team."""


def _current_team_id(request):
    if not request.user.is_authenticated:
        return None
    from deelrx.tenancy.access import teams_for

    chosen = request.session.get("team_id")
    teams = teams_for(request.user)
    if chosen is not None and teams.filter(pk=chosen).exists():
        return chosen
    first = teams.order_by("name", "id").values_list("pk", flat=True).first()
    return first


class CurrentTeamMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.get_current_team_id = lambda: _current_team_id(request)
        return self.get_response(request)
