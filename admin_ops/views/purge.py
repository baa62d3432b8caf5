"""Staff pages for purge operations: list, request form, detail with the
state machine, export download, and acknowledge/cancel behind a confirmation
page (plain forms: everything works without JavaScript)."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from admin_ops import purge_registry
from admin_ops.api.purge_views import export_response
from admin_ops.models import PurgeOperation
from admin_ops.selectors import purge as selectors
from admin_ops.services import purge as services
from deelrx.errors import DomainError, NotFound, PermissionDenied
from deelrx.tenancy.models import Role
from deelrx.web import add_domain_error_to_form, paginate, team_view


class PurgeRequestForm(forms.Form):
    entities = forms.MultipleChoiceField(
        label="What to purge",
        widget=forms.CheckboxSelectMultiple,
    )
    date_from = forms.DateField(label="Created from", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(
        label="Created up to (inclusive)", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    scheduled_for = forms.DateTimeField(
        label="Delete no earlier than (UTC)",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text="Leave empty for as soon as the export is acknowledged.",
    )
    notes = forms.CharField(label="Notes", required=False, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["entities"].choices = [(e.name, e.verbose) for e in purge_registry.available_entities()]
        self.fields["entities"].help_text = purge_registry.scope_help()

    def scope(self) -> dict:
        data = self.cleaned_data
        date_range = {}
        if data.get("date_from"):
            date_range["from"] = data["date_from"].isoformat()
        if data.get("date_to"):
            date_range["to"] = data["date_to"].isoformat()
        return {"entities": data["entities"], "date_range": date_range, "criteria": {}}


# Map the service's field paths onto the form's fields.
FORM_FIELD_OF = {
    "scope.entities": "entities",
    "scope.date_range.from": "date_from",
    "scope.date_range.to": "date_to",
    "scheduled_for": "scheduled_for",
}


def _show_error(form, exc: DomainError) -> None:
    if exc.details and all(isinstance(v, list) for v in exc.details.values()):
        for path, errors in exc.details.items():
            for error in errors:
                form.add_error(FORM_FIELD_OF.get(path), error)
    else:
        add_domain_error_to_form(form, exc)


@team_view(min_role=Role.ADMIN)
def purge_list(request):
    team = request.team_access.team
    status = request.GET.get("status", "")
    filters = {"team_id": team.pk, **({"status": status} if status in PurgeOperation.Status.values else {})}
    page = paginate(request, selectors.purge_list(user=request.user, filters=filters))
    return render(
        request,
        "admin_ops/purge_list.html",
        {"page": page, "status": status, "statuses": PurgeOperation.Status.choices},
    )


@team_view(min_role=Role.ADMIN)
def purge_create(request):
    """The request form. "Count rows" (or, with htmx, any change of the form)
    shows what the scope matches now; a scope that matches nothing is not
    requested until the requester confirms it (the form says so first)."""
    form = PurgeRequestForm(request.POST or None)
    preview = None
    if request.method == "POST" and form.is_valid():
        team = request.team_access.team
        try:
            preview = selectors.purge_preview(user=request.user, team=team, scope=form.scope())
        except DomainError as exc:
            _show_error(form, exc)
        else:
            wants_count = "preview" in request.POST
            unconfirmed_empty = preview["empty"] and request.POST.get("confirm_empty") != "1"
            response = None if wants_count or unconfirmed_empty else _request_purge(request, form)
            if response is not None:
                return response
    return render(request, "admin_ops/purge_form.html", {"form": form, "preview": preview})


def _request_purge(request, form):
    """The redirect to the new purge, or None with the service's refusal on the form."""
    scheduled_for = form.cleaned_data.get("scheduled_for")
    if scheduled_for is not None and timezone.is_naive(scheduled_for):
        scheduled_for = timezone.make_aware(scheduled_for, dt.UTC)
    try:
        purge = services.purge_request(
            team=request.team_access.team,
            user=request.user,
            scope=form.scope(),
            scheduled_for=scheduled_for,
            notes=form.cleaned_data["notes"],
        )
    except DomainError as exc:
        _show_error(form, exc)
        return None
    messages.success(request, "Purge requested. Its export is built within 15 minutes.")
    return redirect("admin_ops:purge-detail", purge_id=purge.pk)


def _purge_or_error(request, purge_id) -> PurgeOperation:
    try:
        return selectors.purge_get(user=request.user, purge_id=purge_id)
    except NotFound:
        raise Http404("Purge not found.") from None
    except PermissionDenied as exc:
        raise DjangoPermissionDenied(exc.message) from None


@login_required
def purge_detail(request, purge_id):
    purge = _purge_or_error(request, purge_id)
    allowed = services.TRANSITIONS[purge.status]
    context = {
        "purge": purge,
        "steps": selectors.purge_steps(purge),
        "counts": selectors.purge_counts(purge),
        "export_available": selectors.export_available(purge),
        "can_acknowledge": PurgeOperation.Status.ACKNOWLEDGED in allowed and bool(purge.export_key),
        "can_cancel": PurgeOperation.Status.CANCELLED in allowed,
        "matches_nothing": selectors.purge_matches_nothing(purge),
        # Before the export: what the scope matches now (bounded count).
        "preview": _preview_before_export(request, purge),
    }
    return render(request, "admin_ops/purge_detail.html", context)


def _preview_before_export(request, purge: PurgeOperation) -> dict | None:
    if purge.status not in (PurgeOperation.Status.REQUESTED, PurgeOperation.Status.SCHEDULED):
        return None
    try:
        return selectors.purge_preview(user=request.user, team=purge.team, scope=purge.scope)
    except DomainError:
        return None  # a scope that no longer validates: the job refuses it and says why


@login_required
def purge_export(request, purge_id):
    purge = _purge_or_error(request, purge_id)
    try:
        return export_response(purge)
    except NotFound:
        raise Http404("The export is not available.") from None


ACTIONS = {
    "acknowledge": {
        "title": "Acknowledge the export",
        "explain": "I have downloaded and checked the export. After the scheduled time the rows in scope "
        "will be deleted for good.",
        "button": "Acknowledge",
        "done": "Export acknowledged; the purge runs once its scheduled time has passed.",
    },
    "cancel": {
        "title": "Cancel this purge",
        "explain": "Nothing will be deleted and the export file is removed.",
        "button": "Cancel purge",
        "done": "Purge cancelled.",
    },
}


@login_required
@require_http_methods(["GET", "POST"])
def purge_action(request, purge_id, action):
    """GET: the confirmation page; POST: do it."""
    purge = _purge_or_error(request, purge_id)
    spec = ACTIONS[action]
    error = None
    if request.method == "POST":
        try:
            if action == "acknowledge":
                services.purge_acknowledge(purge=purge, user=request.user)
            else:
                services.purge_cancel(purge=purge, user=request.user, reason=request.POST.get("reason", "").strip())
        except DomainError as exc:
            error = exc.message
        else:
            messages.success(request, spec["done"])
            return redirect("admin_ops:purge-detail", purge_id=purge.pk)
    status = 409 if error else 200
    context = {
        "purge": purge,
        "action": action,
        "spec": spec,
        "error": error,
        "matches_nothing": selectors.purge_matches_nothing(purge),
    }
    return render(request, "admin_ops/purge_confirm.html", context, status=status)
