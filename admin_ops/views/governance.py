"""Governance pages under /ops/: activity log, inactivity policies and trackers,
blob browser, jobs. They call the same selectors and services as the API."""

from __future__ import annotations

import functools
import json
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import transaction
from django.http import Http404, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from admin_ops.models import InactivityPolicy, InactivityTracker
from admin_ops.selectors import blobs as blob_selectors
from admin_ops.selectors import inactivity as inactivity_selectors
from admin_ops.selectors import jobs as job_selectors
from admin_ops.selectors.activity import (
    ACTIVITY_CSV_HEADER,
    ActivityEventFilter,
    activity_csv_rows,
    activity_list,
    activity_rows,
)
from admin_ops.services import blobs as blob_services
from admin_ops.services import inactivity as inactivity_services
from admin_ops.services.export import EXPORTS_PREFIX
from admin_ops.views.governance_forms import BlobDeleteForm, BlobMigrateForm, InactivityPolicyForm
from deelrx.csv_export import streaming_csv_response
from deelrx.errors import DomainError, NotFound
from deelrx.jobs import JOB_SPECS, JobNotImplemented, job_run_request, load_jobs
from deelrx.storage import STORE_TYPES
from deelrx.tenancy.models import Role
from deelrx.web import (
    add_domain_error_to_form,
    domain_error_text,
    keyset_paginate,
    paginate,
    resolve_team_access,
    team_view,
    vary_on_htmx,
    wants_partial,
)

ACTIVITY_PER_PAGE = 50


def _which_filter(exc: DomainError) -> str:
    """A refused filter, naming the parameter (an htmx swap or a download shows no form)."""
    fields = (exc.details or {}).items()
    return " ".join(f"{name}: {' '.join(map(str, messages))}" for name, messages in fields) or exc.message


@team_view(Role.ADMIN)
def activity_log(request):
    team = request.team_access.team
    filterset = ActivityEventFilter(data=request.GET or None)
    page, error = None, None
    try:
        page = keyset_paginate(request, activity_list(team=team, filters=request.GET), per_page=ACTIVITY_PER_PAGE)
    except DomainError as exc:  # a wrong filter (the form marks it too) or a mangled cursor
        error = _which_filter(exc)
    form = filterset.form
    # Pick the acting user by name rather than by id.
    members = inactivity_selectors.member_choices(team=team)
    form.fields["user"].widget = forms.Select(choices=[("", "Anyone"), *members])
    form.fields["user"].label = "User"
    export_query = urlencode({k: v for k, v in request.GET.items() if k != "cursor"})
    context = {
        "form": form,
        "page": page,
        "events": activity_rows(page or []),
        "error": error,
        "export_url": f"{reverse('admin_ops:activity-export')}?{export_query}" if page is not None else None,
    }
    template = "admin_ops/_activity_rows.html" if wants_partial(request) else "admin_ops/activity_list.html"
    return vary_on_htmx(render(request, template, context))


@team_view(Role.ADMIN)
def activity_export(request):
    """The log as CSV with the page's filters: every matching event, streamed."""
    team = request.team_access.team
    try:
        rows = activity_csv_rows(team=team, filters=request.GET)
    except DomainError as exc:
        return HttpResponseBadRequest(_which_filter(exc), content_type="text/plain; charset=utf-8")
    return streaming_csv_response(filename=f"activity-{team.slug}.csv", header=ACTIVITY_CSV_HEADER, rows=rows)


def _policy_form_error(form, exc: DomainError) -> None:
    # The service names nested fields "actions.warnings"; the form calls them "warnings".
    if exc.details:
        exc.details = {key.removeprefix("actions."): value for key, value in exc.details.items()}
    add_domain_error_to_form(form, exc)


def _team_policy(request, policy_id) -> InactivityPolicy:
    try:
        return inactivity_selectors.team_policy_get(team=request.team_access.team, policy_id=policy_id)
    except NotFound as exc:
        raise Http404(exc.message) from None


# --- Inactivity policies -------------------------------------------------------------------
@team_view(Role.ADMIN)
def inactivity_policy_list(request):
    team = request.team_access.team
    return render(
        request,
        "admin_ops/inactivity_policy_list.html",
        {"policies": inactivity_selectors.policy_list(team=team)},
    )


@team_view(Role.ADMIN)
def inactivity_policy_create(request):
    form = InactivityPolicyForm(request.POST or None, initial={"is_active": True})
    if request.method == "POST" and form.is_valid():
        try:
            policy = inactivity_services.policy_create(
                team=request.team_access.team, actor=request.user, **form.service_fields()
            )
        except DomainError as exc:
            _policy_form_error(form, exc)
        else:
            messages.success(request, f"Policy “{policy.name}” created.")
            return redirect("admin_ops:inactivity-policy-list")
    return render(request, "admin_ops/inactivity_policy_form.html", {"form": form, "policy": None})


@team_view(Role.ADMIN)
def inactivity_policy_edit(request, policy_id):
    policy = _team_policy(request, policy_id)
    form = InactivityPolicyForm(request.POST or None, initial=InactivityPolicyForm.initial_for(policy))
    if request.method == "POST" and form.is_valid():
        try:
            inactivity_services.policy_update(policy=policy, actor=request.user, **form.service_fields())
        except DomainError as exc:
            _policy_form_error(form, exc)
        else:
            messages.success(request, "Policy saved.")
            return redirect("admin_ops:inactivity-policy-list")
    return render(request, "admin_ops/inactivity_policy_form.html", {"form": form, "policy": policy})


@team_view(Role.ADMIN)
def inactivity_policy_delete(request, policy_id):
    policy = _team_policy(request, policy_id)
    error = None
    if request.method == "POST":
        try:
            inactivity_services.policy_delete(policy=policy, actor=request.user)
        except DomainError as exc:
            error = exc.message
        else:
            messages.success(request, f"Policy “{policy.name}” deleted.")
            return redirect("admin_ops:inactivity-policy-list")
    return render(request, "admin_ops/inactivity_policy_delete.html", {"policy": policy, "error": error})


# --- Trackers --------------------------------------------------------------------------------
@team_view(Role.ADMIN)
def inactivity_tracker_list(request):
    team = request.team_access.team
    filters = {k: v for k, v in request.GET.items() if k in ("policy_id", "is_suspended") and v}
    error = None
    try:
        trackers = inactivity_selectors.tracker_list(team=team, filters=filters)
    except DomainError as exc:
        error, trackers = exc.message, InactivityTracker.objects.none()
    return render(
        request,
        "admin_ops/inactivity_tracker_list.html",
        {
            "page": paginate(request, trackers, per_page=50),
            "policies": inactivity_selectors.policy_list(team=team),
            "filters": filters,
            "error": error,
        },
    )


@team_view(Role.ADMIN)
@require_POST
def inactivity_tracker_reinstate(request, tracker_id):
    try:
        tracker = inactivity_selectors.team_tracker_get(team=request.team_access.team, tracker_id=tracker_id)
    except NotFound as exc:
        raise Http404(exc.message) from None
    try:
        tracker = inactivity_services.member_reinstate(tracker=tracker, actor=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{tracker.user.username} is reinstated.")
    return redirect("admin_ops:inactivity-tracker-list")


# --- Blob browser (superusers) -------------------------------------------------------------------
def superuser_required(view):
    @login_required
    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_superuser:
            raise DjangoPermissionDenied("Only superusers may manage the file stores.")
        return view(request, *args, **kwargs)

    return wrapper


@superuser_required
def blob_list(request):
    store = request.GET.get("store", "private")
    if store not in STORE_TYPES:
        store = "private"
    prefix = request.GET.get("prefix", "")
    entries, next_cursor, error = [], None, None
    try:
        entries, next_cursor = blob_selectors.blob_list(
            store=store, prefix=prefix, cursor=request.GET.get("cursor"), limit=50
        )
    except DomainError as exc:
        error = domain_error_text(exc)
    other_store = "public" if store == "private" else "private"
    for entry in entries:
        # the service refuses it anyway; do not offer a move that cannot happen
        part_of_upload = (entry.details or {}).get("kind") in ("version", "thumbnail")  # moves with its upload
        entry.movable = not (other_store == "public" and entry.key.startswith(EXPORTS_PREFIX)) and not part_of_upload
    saved = [e.details["saved_bytes"] for e in entries if e.details and e.details.get("saved_bytes")]
    query = {"store": store, "prefix": prefix}
    next_query = urlencode({**query, "cursor": next_cursor}) if next_cursor else None
    return render(
        request,
        "admin_ops/blob_list.html",
        {
            "store": store,
            "other_store": other_store,
            "stores": STORE_TYPES,
            "prefix": prefix,
            "entries": entries,
            "next_query": next_query,
            "first_query": urlencode(query) if request.GET.get("cursor") else None,
            "error": error,
            "saved_bytes": sum(saved),  # by gzip encoding, over this page's files
        },
    )


@superuser_required
@require_POST
def blob_migrate(request):
    form = BlobMigrateForm(request.POST)
    back = request.POST.get("back") or reverse("admin_ops:blob-list")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        back = reverse("admin_ops:blob-list")
    if not form.is_valid():
        messages.error(request, "Choose a file and a store.")
        return redirect(back)
    try:
        result = blob_services.blob_migrate(
            actor=request.user, key=form.cleaned_data["key"], to_store=form.cleaned_data["to_store"]
        )
    except DomainError as exc:
        messages.error(request, domain_error_text(exc))
    else:
        moved = len(result["referenced_by"])
        messages.success(
            request, f"Moved to {result['key']}; {moved} referencing row{'s' if moved != 1 else ''} updated."
        )
    return redirect(back)


@superuser_required
def blob_delete(request):
    source = request.POST if request.method == "POST" else request.GET
    store, key = source.get("store", ""), source.get("key", "")
    try:
        blob = blob_selectors.blob_get(store=store, key=key)
    except DomainError:
        raise Http404("No such file.") from None
    if blob is None:
        raise Http404("No such file.")
    form = BlobDeleteForm(request.POST or None)
    error = None
    if request.method == "POST" and form.is_valid():
        try:
            blob_services.blob_delete(actor=request.user, store=store, key=key, force=form.cleaned_data["force"])
        except DomainError as exc:
            error = exc.message
        else:
            messages.success(request, f"Deleted {key}.")
            return redirect(f"{reverse('admin_ops:blob-list')}?{urlencode({'store': store})}")
    return render(request, "admin_ops/blob_delete.html", {"blob": blob, "store": store, "form": form, "error": error})


# --- Jobs --------------------------------------------------------------------------------------
def jobs_access(view):
    """Superusers, and admins/owners of the current team (who see but do not run)."""

    @login_required
    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_superuser:
            request.team_access = resolve_team_access(request, min_role=Role.ADMIN)
        return view(request, *args, **kwargs)

    return wrapper


@jobs_access
def job_list(request):
    runs = job_selectors.recent_runs(limit=20)
    for run in runs:
        run.summary_json = json.dumps(run.summary, sort_keys=True)
    return render(request, "admin_ops/job_list.html", {"jobs": job_selectors.job_rows(), "runs": runs})


@superuser_required
@require_POST
def job_run(request, name):
    """Queue the job's Celery task now, recorded as a manual run (`_trigger="manual"`).

    It runs on a worker, not in the web process (a purge or a retention sweep can
    outlast a request); with no broker Celery is eager and the run finishes before
    the redirect. Queued after commit, so a worker never starts a run whose request
    rolled back."""
    if name not in JOB_SPECS:
        raise Http404("No such job.")
    registered = load_jobs().get(name)
    if registered is None:
        messages.error(request, f"{name} is not registered in this installation.")
        return redirect("admin_ops:job-list")
    dry_run = request.POST.get("dry_run") == "on" and "dry_run" in registered.options
    options = job_run_request(name=name, user=request.user, dry_run=dry_run)
    label = f"{name}{' (dry run)' if dry_run else ''}"

    def enqueue() -> None:
        try:
            result = registered.task.apply_async(kwargs={"_trigger": "manual", **options})
        except JobNotImplemented as exc:  # eager: raised here
            messages.error(request, str(exc))
        except Exception as exc:  # eager: the run failed (also on its JobRun); else: broker unreachable
            messages.error(request, f"{label} failed: {exc.__class__.__name__}: {exc}")
        else:
            if result.ready():
                counts = (result.result or {}).get("counts") if isinstance(result.result, dict) else None
                detail = f" ({', '.join(f'{k}: {v}' for k, v in counts.items())})" if counts else ""
                messages.success(request, f"{label} finished{detail}; its summary is under Recent runs.")
            else:
                messages.success(request, f"{label} queued; its run appears below once a worker picks it up.")

    transaction.on_commit(enqueue)
    return redirect("admin_ops:job-list")
