"""Admin operations pages. The index links to every tool; the tools live in
`governance.py` (activity log, inactivity, blobs, jobs) and `purge.py`."""

from django.shortcuts import render

from admin_ops.selectors.dashboard import ops_index_summary
from deelrx.web import team_view


@team_view()
def index(request):
    access = request.team_access
    summary = ops_index_summary(team=access.team) if access.can_manage else None
    return render(request, "admin_ops/index.html", {"summary": summary})
