"""The notifications pages (DESIGN §13): the list with filters and mark read, opening
one (marked read, its team made current, then its page), and the preferences.
Everyone signed in has them: they show the user's own notifications only."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from deelrx.audit.registry import notified_event_types
from deelrx.errors import NotFound
from deelrx.tenancy.access import teams_for
from deelrx.web import paginate
from notifications import selectors, services


@login_required
def notification_list(request):
    unread = request.GET.get("unread") == "true"
    known = {t.name for t in notified_event_types()}
    event_type = request.GET.get("event_type", "")
    event_type = event_type if event_type in known else ""
    page = paginate(request, selectors.notification_list(user=request.user, unread=unread, event_type=event_type))
    return render(
        request,
        "notifications/list.html",
        {
            "page": page,
            "unread": unread,
            "event_type": event_type,
            "event_types": [(t.name, t.label) for t in notified_event_types()],
        },
    )


@login_required
def notification_open(request, notification_id):
    """Follow a notification: marked read, its team made the current one (when the
    user is still a member), then its page (or the list when it has none)."""
    notification = _own(request, notification_id)
    services.notification_mark_read(notification=notification)
    if notification.team_id and teams_for(request.user).filter(pk=notification.team_id).exists():
        request.session["team_id"] = notification.team_id
    return redirect(notification.url or "notifications:list")


@login_required
@require_POST
def notification_read(request, notification_id):
    notification = _own(request, notification_id)
    services.notification_mark_read(notification=notification)
    return redirect(_back(request))


@login_required
@require_POST
def notification_read_all(request):
    marked = services.notifications_mark_all_read(user=request.user)
    messages.success(request, f"{marked} notification(s) marked read.")
    return redirect(_back(request))


@login_required
@require_http_methods(["GET", "POST"])
def notification_preferences(request):
    preferences = selectors.preferences_for(user=request.user)
    if request.method == "POST":
        changes = [
            {
                "event_type": p["event_type"],
                "in_app": f"in_app:{p['event_type']}" in request.POST,
                "email": f"email:{p['event_type']}" in request.POST,
            }
            for p in preferences
        ]
        services.notification_preferences_update(user=request.user, changes=changes)
        messages.success(request, "Notification preferences saved.")
        return redirect("notifications:preferences")
    return render(request, "notifications/preferences.html", {"preferences": preferences})


def _own(request, notification_id):
    try:
        return selectors.notification_get(user=request.user, notification_id=notification_id)
    except NotFound as exc:
        raise Http404(exc.message) from None


def _back(request) -> str:
    """The list with the filters the form came from (only our own query string)."""
    query = request.POST.get("query", "")
    allowed = {"unread", "event_type", "page"}
    kept = urlencode([(k, v) for k, v in parse_qsl(query) if k in allowed])
    return f"/notifications/?{kept}" if kept else "/notifications/"
