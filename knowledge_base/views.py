"""Knowledge base HTML: the staff pages under /kb/ (current team) and the
public help center under /help/ (anyone, signed in or not).

Views stay thin: reads go through knowledge_base.selectors, writes through
knowledge_base.services, whose domain errors are shown on the forms or as
messages. Stored article HTML (content_html) was sanitised when it was
rendered (knowledge_base.rendering) and is sanitised again before it is
marked safe here; search snippets are sanitised again down to <mark> only.
"""

from __future__ import annotations

import difflib
import itertools
from collections import Counter

import nh3
from django.contrib import messages
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db.models import Prefetch
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST, require_safe

from deelrx.errors import DomainError
from deelrx.searches import search_performed
from deelrx.tenancy.access import require_role
from deelrx.tenancy.models import Role
from deelrx.web import (
    add_domain_error_to_form,
    domain_error_text,
    is_htmx,
    paginate,
    team_view,
    vary_on_htmx,
    wants_partial,
)
from knowledge_base.forms import (
    ArticleForm,
    AttachmentForm,
    AttachmentVersionForm,
    FeedbackForm,
    HelpSearchForm,
    ProposalForm,
    ProposalReviewForm,
    TransitionForm,
)
from knowledge_base.models import KbArticle, KbUpload
from knowledge_base.rendering import render_markdown, sanitize_html
from knowledge_base.selectors import articles as article_selectors
from knowledge_base.selectors import proposals as proposal_selectors
from knowledge_base.selectors.dashboard import broken_link_list, category_list, links_last_checked
from knowledge_base.selectors.search import snippet_html
from knowledge_base.selectors.uploads import upload_version_get, upload_versions_of_many, uploads_for_article
from knowledge_base.services import articles as article_services
from knowledge_base.services import proposals as proposal_services
from knowledge_base.services.uploads import upload_create, upload_thumbnail_url, upload_url
from knowledge_base.services.versions import upload_replace, upload_version_restore
from knowledge_base.throttle import feedback_allowed, view_countable

Status = KbArticle.Status

PAGE_SIZE = 25
HISTORY_PAGE_SIZE = 20
HELP_PAGE_SIZE = 50
LIST_FILTERS = ("q", "status", "category", "tag", "is_public")
# How each workflow move is offered in the UI; who may make it is the service's rule.
ACTIONS = {
    (Status.DRAFT, Status.REVIEW): {"label": "Submit for review", "style": "primary"},
    (Status.REVIEW, Status.PUBLISHED): {"label": "Approve and publish", "style": "primary"},
    (Status.REVIEW, Status.DRAFT): {
        "label": "Request changes",
        "needs_note": True,
        "note_required": True,
        "note_label": "What should change?",
    },
    (Status.PUBLISHED, Status.ARCHIVED): {"label": "Archive", "style": "danger"},
    (Status.PUBLISHED, Status.DRAFT): {"label": "Unpublish (back to draft)"},
    (Status.ARCHIVED, Status.DRAFT): {"label": "Back to draft"},
}
VIEWED_SESSION_KEY = "kb_viewed_articles"
FEEDBACK_SESSION_KEY = "kb_feedback_articles"
SESSION_MEMORY = 500  # ids remembered per session, newest kept


# --- Staff pages (/kb/) -----------------------------------------------------------
@team_view()
def article_list(request):
    team = request.team_access.team
    filters = {name: request.GET.get(name, "").strip() for name in LIST_FILTERS}
    filter_errors = None
    try:
        articles = article_selectors.article_list(
            user=request.user, filters={**_non_empty(filters), "team_id": str(team.pk)}
        )
    except DomainError as exc:
        filter_errors = exc.details or {"filters": [exc.message]}
        articles = KbArticle.objects.none()
    page = paginate(request, articles, per_page=PAGE_SIZE)
    if filters.get("q") and not filter_errors:
        # An article found through an attachment's text says which attachment, and quotes it.
        for article in page.object_list:
            if getattr(article, "attachment_name", None):
                article.attachment_snippet = safe_snippet(article, filters["q"])
    if filters.get("q") and not filter_errors and not page.has_previous:
        count = len(page.object_list)
        search_performed(request, source="staff", query=filters["q"], result_count=count, team_id=team.pk)
    context = {
        "page": page,
        "filters": filters,
        "filter_errors": filter_errors,
        "status_choices": Status.choices,
        "categories": category_list(team=team),
    }
    # an htmx swap gets the rows; a history restore (Back after a live search) the whole page
    template = "knowledge_base/_article_rows.html" if wants_partial(request) else "knowledge_base/article_list.html"
    return vary_on_htmx(render(request, template, context))


@team_view()
def article_detail(request, article_id):
    article = _team_article_or_404(request, article_id)
    allowed = article_services.allowed_transitions_for(article=article, user=request.user)
    actions = [
        {"status": target, **ACTIONS[(article.status, target)]}
        for target in allowed
        if (article.status, target) in ACTIONS
    ]
    context = {
        "article": article,
        "content_html": _stored_html(article),
        "actions": actions,
        "can_edit": _can_edit(request, article),
        "can_delete": article_services.can_delete_article(request.team_access, article, request.user),
        "attachments": _attachments(article),
        "public_url": _public_url(article),
        "feedback": article_selectors.feedback_counts(article=article),
        "can_propose": not _can_edit(request, article)
        and proposal_services.can_propose(access=request.team_access, article=article),
        "proposals": proposal_selectors.article_proposals(article=article).filter(status="pending"),
    }
    return render(request, "knowledge_base/article_detail.html", context)


@team_view(write_role=Role.MEMBER)
def article_create(request):
    if not request.team_access.can_write:  # GET is open to viewers by @team_view; the editor is not
        raise DjangoPermissionDenied("Writing articles needs the 'member' role.")
    # "Write an article" from the reports' zero-result searches opens with the search as title.
    form = ArticleForm(request.POST or None, initial={"title": request.GET.get("title", "")[:200]})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            article = article_services.article_create(team=request.team_access.team, user=request.user, **data)
        except DomainError as exc:
            add_domain_error_to_form(form, exc)
        else:
            messages.success(request, f"Draft “{article.title}” saved.")
            return redirect("knowledge_base:article-edit", article_id=article.pk)
    return _render_editor(request, form=form, article=None)


@team_view(write_role=Role.MEMBER)
def article_edit(request, article_id):
    article = _team_article_or_404(request, article_id)
    if not _can_edit(request, article):
        if proposal_services.can_propose(access=request.team_access, article=article):
            # A member cannot change a live article, but may propose the change for review.
            return redirect("knowledge_base:article-propose", article_id=article.pk)
        raise DjangoPermissionDenied(
            f"Editing a {article.get_status_display().lower()} article needs the 'admin' role."
        )
    form = ArticleForm(request.POST or None, initial=ArticleForm.initial_for(article), editing=True)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        note = data.pop("note", "")
        try:
            article = article_services.article_update(article=article, user=request.user, note=note, **data)
        except DomainError as exc:
            add_domain_error_to_form(form, exc)
        else:
            messages.success(request, "Article saved.")
            return redirect("knowledge_base:article-detail", article_id=article.pk)
    return _render_editor(request, form=form, article=article)


@team_view(write_role=Role.MEMBER)
@require_POST
def article_transition(request, article_id):
    article = _team_article_or_404(request, article_id)
    form = TransitionForm(request.POST)
    back = (
        redirect("knowledge_base:review-queue")
        if request.POST.get("next") == "review"
        else redirect("knowledge_base:article-detail", article_id=article.pk)
    )
    if not form.is_valid():
        messages.error(request, "Choose a status.")
        return back
    target, note = form.cleaned_data["status"], form.cleaned_data["note"].strip()
    try:  # the service decides (e.g. sending an article back needs a note for its author)
        article = article_services.article_transition(article=article, user=request.user, status=target, note=note)
    except DomainError as exc:
        messages.error(request, domain_error_text(exc))
    else:
        messages.success(request, f"“{article.title}” is now {article.get_status_display().lower()}.")
    return back


@team_view(write_role=Role.MEMBER)
@require_POST
def article_delete(request, article_id):
    article = _team_article_or_404(request, article_id)
    try:
        article_services.article_delete(article=article, user=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("knowledge_base:article-detail", article_id=article.pk)
    messages.success(request, f"“{article.title}” deleted.")
    return redirect("knowledge_base:index")


@team_view(write_role=Role.MEMBER)
@require_POST
def preview(request):
    """Live preview for the editor (htmx): the same sanitiser as saving uses."""
    html = render_markdown(request.POST.get("content", ""))
    return render(request, "knowledge_base/_preview.html", {"html": mark_safe(html)})  # noqa: S308 - sanitised


@team_view(write_role=Role.MEMBER)
@require_POST
def attachment_upload(request, article_id):
    """Plain form fallback for the drag-and-drop uploader (which uses the API)."""
    article = _team_article_or_404(request, article_id)
    if not _can_edit(request, article):  # attachments of a live article are live too
        raise DjangoPermissionDenied(
            f"Attaching files to a {article.get_status_display().lower()} article needs the 'admin' role."
        )
    upload_form = AttachmentForm(request.POST, request.FILES)
    if upload_form.is_valid():
        try:
            upload = upload_create(
                team=article.team,
                user=request.user,
                file=upload_form.cleaned_data["file"],
                context=upload_form.cleaned_data["context"],
                article=article,
            )
        except DomainError as exc:
            add_domain_error_to_form(upload_form, exc)
        else:
            messages.success(request, f"Uploaded {upload.original_name}.")
            return redirect(reverse("knowledge_base:article-edit", args=[article.pk]) + "#attachments")
    form = ArticleForm(initial=ArticleForm.initial_for(article), editing=True)
    return _render_editor(request, form=form, article=article, upload_form=upload_form, status=400)


def _team_attachment_or_404(request, article_id, upload_id) -> tuple[KbArticle, KbUpload]:
    article = _team_article_or_404(request, article_id)
    upload = uploads_for_article(article=article).filter(pk=upload_id).first()
    if upload is None:
        raise Http404("Attachment not found.")
    if not _can_edit(request, article):  # attachments of a live article are live too
        raise DjangoPermissionDenied(
            f"Changing attachments of a {article.get_status_display().lower()} article needs the 'admin' role."
        )
    return article, upload


def _attachments_anchor(article: KbArticle, upload: KbUpload) -> str:
    return reverse("knowledge_base:article-edit", args=[article.pk]) + f"#attachment-{upload.pk}"


@team_view(write_role=Role.MEMBER)
@require_POST
def attachment_replace(request, article_id, upload_id):
    """Upload a new version of an attachment (same key and URL; the old content is kept)."""
    article, upload = _team_attachment_or_404(request, article_id, upload_id)
    form = AttachmentVersionForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            upload = upload_replace(upload=upload, user=request.user, file=form.cleaned_data["file"])
        except DomainError as exc:
            messages.error(request, f"{upload.original_name}: {domain_error_text(exc)}")
        else:
            messages.success(request, f"Uploaded version {upload.version} of {upload.original_name}.")
    else:
        messages.error(request, f"{upload.original_name}: choose the file of the new version.")
    return redirect(_attachments_anchor(article, upload))


@team_view(write_role=Role.MEMBER)
def attachment_version_restore(request, article_id, upload_id, number):
    """GET: what restoring does, to confirm; POST: restore it (as a new version)."""
    article, upload = _team_attachment_or_404(request, article_id, upload_id)
    try:
        version = upload_version_get(upload=upload, number=number)
    except DomainError:
        raise Http404("Version not found.") from None
    error = ""
    if request.method == "POST":
        try:
            upload = upload_version_restore(upload=upload, number=version.number, user=request.user)
        except DomainError as exc:
            error = domain_error_text(exc)
        else:
            messages.success(
                request, f"Restored version {version.number} of {upload.original_name} as version {upload.version}."
            )
            return redirect(_attachments_anchor(article, upload))
    context = {"article": article, "upload": upload, "version": version, "error": error}
    return render(request, "knowledge_base/attachment_version_restore.html", context, status=400 if error else 200)


@team_view()
def article_history(request, article_id):
    article = _team_article_or_404(request, article_id)
    page = paginate(request, article_selectors.revision_list(article=article), per_page=HISTORY_PAGE_SIZE)
    revisions = list(page)
    # The oldest revision on this page is diffed against the one just before it.
    previous = {rev.number: rev for rev in revisions}
    if revisions and revisions[-1].number > 1:
        before = article_selectors.revision_list(article=article).filter(number__lt=revisions[-1].number).first()
        if before is not None:
            previous[before.number] = before
    ordered = sorted(previous.values(), key=lambda rev: rev.number)
    prior_of = {cur.number: prev for prev, cur in itertools.pairwise(ordered)}
    entries = []
    for revision in revisions:
        prior = prior_of.get(revision.number)
        entries.append(
            {
                "revision": revision,
                "is_first": prior is None,
                "previous_number": prior.number if prior else None,
                "diff": revision_diff(prior, revision) if prior else [],
            }
        )
    return render(
        request, "knowledge_base/article_history.html", {"article": article, "page": page, "entries": entries}
    )


@team_view(min_role=Role.ADMIN)
def review_queue(request):
    team = request.team_access.team
    articles = (
        article_selectors.article_list(user=request.user, filters={"team_id": str(team.pk), "status": Status.REVIEW})
        .select_related("author")
        .order_by("updated_at", "pk")
    )
    context = {
        "page": paginate(request, articles, per_page=PAGE_SIZE),
        "proposals": proposal_selectors.pending_proposals(team=team)[:PAGE_SIZE],
    }
    return render(request, "knowledge_base/review_queue.html", context)


@team_view(write_role=Role.MEMBER)
def article_propose(request, article_id):
    """A member's proposed edit of a published article (the editor, without upload)."""
    article = _team_article_or_404(request, article_id)
    if not proposal_services.can_propose(access=request.team_access, article=article):
        if _can_edit(request, article):
            return redirect("knowledge_base:article-edit", article_id=article.pk)
        raise DjangoPermissionDenied("Proposing edits needs the 'member' role on a published article.")
    initial = {"title": article.title, "excerpt": article.excerpt, "content": article.content}
    form = ProposalForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            proposal_services.proposal_create(article=article, user=request.user, **form.cleaned_data)
        except DomainError as exc:
            add_domain_error_to_form(form, exc)
        else:
            messages.success(
                request, "Your proposed edit was sent for review. The article stays as it is until an admin accepts it."
            )
            return redirect("knowledge_base:article-detail", article_id=article.pk)
    return render(request, "knowledge_base/proposal_form.html", {"form": form, "article": article})


@team_view()
def proposal_detail(request, proposal_id):
    """The proposal against the article as it is now; admins accept or decline it here."""
    proposal = _team_proposal_or_404(request, proposal_id)
    form = ProposalReviewForm(request.POST or None)
    if request.method == "POST":
        if not request.team_access.can_manage:
            raise DjangoPermissionDenied("Reviewing proposed edits needs the 'admin' role.")
        if form.is_valid():
            decide = (
                proposal_services.proposal_accept
                if form.cleaned_data["decision"] == "accept"
                else proposal_services.proposal_decline
            )
            try:
                proposal = decide(proposal=proposal, user=request.user, note=form.cleaned_data["note"])
            except DomainError as exc:
                add_domain_error_to_form(form, exc)
            else:
                messages.success(request, f"Proposed edit {proposal.get_status_display().lower()}.")
                return redirect("knowledge_base:review-queue")
    article = proposal.article
    base_changed = article.revisions.filter(number__gt=proposal.base_revision).exists()
    context = {
        "proposal": proposal,
        "article": article,
        "diff": revision_diff(article, proposal),
        "base_changed": base_changed and proposal.status == proposal.Status.PENDING,
        "form": form,
        "can_review": request.team_access.can_manage and proposal.status == proposal.Status.PENDING,
    }
    return render(request, "knowledge_base/proposal_detail.html", context, status=400 if form.errors else 200)


@team_view()
def link_report(request):
    team = request.team_access.team
    context = {
        "page": paginate(request, broken_link_list(team=team), per_page=PAGE_SIZE),
        "last_checked": links_last_checked(team=team),
    }
    return render(request, "knowledge_base/link_report.html", context)


# --- Public help center (/help/) ----------------------------------------------------
def _help_search_performed(request, query: str, context: dict) -> None:
    """The shared help center's search is about the teams whose public articles it found (or,
    finding none, offered as close matches): noted once for each of them, with that team's
    results on the page, so each sees it in its report and no other team does (decision 47).
    A search about no team's article is kept with no team, in no team's report."""
    found = Counter(item["article"].team_id for item in context["results"])
    about = found or dict.fromkeys(sorted({item["article"].team_id for item in context.get("similar", [])}), 0)
    for team_id, count in about.items() or [(None, 0)]:
        search_performed(request, source="help_center", query=query, result_count=count, team_id=team_id)


@require_safe
def help_center(request):
    form = HelpSearchForm(request.GET)
    query = form.cleaned_data["q"].strip() if form.is_valid() else ""
    context = {"query": query, "form": form}
    # No COUNT of the matches (ranking every one of them a second time): one row
    # more than a page says whether there is a next page.
    if query:
        try:
            results = article_selectors.public_articles(filters={"q": query})
        except DomainError as exc:
            results, context["search_error"] = KbArticle.objects.none(), exc.message
        page = paginate(request, results, per_page=HELP_PAGE_SIZE)
        context["page"] = page
        context["results"] = [{"article": article, "snippet": safe_snippet(article, query)} for article in page]
        if not context["results"] and not page.has_previous and "search_error" not in context:
            # Nothing matched: articles close to the query (typos) and a "did you mean".
            similar, suggestion = article_selectors.similar_public_articles(q=query)
            context["suggestion"] = suggestion
            context["similar"] = [
                {"article": article, "snippet": safe_snippet(article, suggestion or query)} for article in similar
            ]
        if not page.has_previous and "search_error" not in context:
            _help_search_performed(request, query, context)
    else:
        articles = article_selectors.public_articles().order_by("category", "title", "pk")
        context["page"] = paginate(request, articles, per_page=HELP_PAGE_SIZE)
    return render(request, "knowledge_base/help_center.html", context)


@require_safe
def help_article(request, team_slug, article_slug):
    article = _public_article_or_404(team_slug, article_slug)
    # Once per session, and per client IP (a client without cookies has a new session every time).
    if (
        request.method == "GET"
        and _remember_once(request, VIEWED_SESSION_KEY, article)
        and view_countable(request, article_id=article.pk)
    ):
        article_services.article_view_count_increment(article=article)
    return _render_help_article(request, article, thanks=request.GET.get("feedback") == "thanks")


@require_POST
def help_feedback(request, team_slug, article_slug):
    article = _public_article_or_404(team_slug, article_slug)
    form = FeedbackForm(request.POST)
    if form.is_valid():
        # Once per session per article: a double submit or a reload does not count twice.
        if _remember_once(request, FEEDBACK_SESSION_KEY, article):
            # The per-IP limit is only spent on feedback that would be stored (not on a double submit).
            if not feedback_allowed(request):
                _forget(request, FEEDBACK_SESSION_KEY, article)  # may try again once the limit resets
                return _feedback_limited(request, article, form)
            try:
                article_services.feedback_create(
                    article=article,
                    user=request.user if request.user.is_authenticated else None,
                    helpful=form.cleaned_data["helpful"],
                    comment=form.cleaned_data["comment"],
                )
            except DomainError as exc:
                _forget(request, FEEDBACK_SESSION_KEY, article)
                add_domain_error_to_form(form, exc)
        if not form.errors:
            if is_htmx(request):
                return render(request, "knowledge_base/help/_feedback.html", {"article": article, "thanks": True})
            url = reverse("help:article", args=[article.team.slug, article.slug])
            return redirect(f"{url}?feedback=thanks#feedback")
    if is_htmx(request):
        return render(request, "knowledge_base/help/_feedback.html", {"article": article, "feedback_form": form})
    return _render_help_article(request, article, feedback_form=form)


def _feedback_limited(request, article, form):
    """429 with the feedback form kept (the answer is not lost) and a message saying why."""
    if is_htmx(request):
        context = {"article": article, "feedback_form": form, "rate_limited": True}
        return render(request, "knowledge_base/help/_feedback.html", context, status=429)
    return _render_help_article(request, article, feedback_form=form, rate_limited=True, status=429)


# --- Helpers ------------------------------------------------------------------------
def _non_empty(values: dict) -> dict:
    return {key: value for key, value in values.items() if value}


def _team_article_or_404(request, article_id) -> KbArticle:
    """Staff pages show the current team's articles only (others' are 404)."""
    try:
        article = article_selectors.article_get_for_user(user=request.user, article_id=article_id)
    except DomainError:
        raise Http404("Article not found.") from None
    if article.team_id != request.team_access.team.pk:
        raise Http404("Article not found.")
    return article


def _team_proposal_or_404(request, proposal_id):
    try:
        proposal = proposal_selectors.proposal_get_for_user(user=request.user, proposal_id=proposal_id)
    except DomainError:
        raise Http404("Proposed edit not found.") from None
    if proposal.article.team_id != request.team_access.team.pk:
        raise Http404("Proposed edit not found.")
    return proposal


def _public_article_or_404(team_slug: str, article_slug: str) -> KbArticle:
    try:
        return article_selectors.public_article_get(team_slug=team_slug, slug=article_slug)
    except DomainError:
        raise Http404("Article not found.") from None


def _can_edit(request, article: KbArticle) -> bool:
    access = request.team_access
    if article.status in article_services.ADMIN_EDIT_STATUSES:
        return access.can_manage
    return access.can_write


def _is_editor_of(user, article: KbArticle) -> bool:
    """A member (or higher) of the article's team: one who may edit or propose edits."""
    if not user.is_authenticated:
        return False
    try:
        require_role(user, article.team_id, Role.MEMBER)
    except DomainError:
        return False
    return True


def _attachments(article: KbArticle, *, public_only: bool = False, with_versions: bool = False) -> list[dict]:
    uploads = uploads_for_article(article=article)
    if public_only:
        uploads = uploads.filter(store=KbUpload.Store.PUBLIC)
    if with_versions:  # the editor lists each attachment's versions: one more query for all of them
        uploads = uploads.prefetch_related(Prefetch("versions", queryset=upload_versions_of_many()))
    return [
        {
            "upload": upload,
            "url": upload_url(upload),
            "thumbnail_url": upload_thumbnail_url(upload),
            "versions": list(upload.versions.all()) if with_versions else None,
        }
        for upload in uploads
    ]


def _public_url(article: KbArticle) -> str | None:
    if article.status == Status.PUBLISHED and article.is_public:
        return reverse("help:article", args=[article.team.slug, article.slug])
    return None


def _render_editor(request, *, form, article, upload_form=None, status: int = 200):
    context = {
        "form": form,
        "article": article,
        # Secure default: an internal article's files go to the private store
        # unless the author chooses otherwise (public URLs need no sign-in).
        "upload_form": upload_form
        or AttachmentForm(initial={"context": "kb-article" if article and article.is_public else "user-upload"}),
        "attachments": _attachments(article, with_versions=True) if article else [],
        "version_form": AttachmentVersionForm(),
    }
    return render(request, "knowledge_base/article_form.html", context, status=status)


def _render_help_article(
    request, article, *, feedback_form=None, thanks: bool = False, rate_limited: bool = False, status: int = 200
):
    context = {
        "article": article,
        "content_html": _stored_html(article),
        "attachments": _attachments(article, public_only=True),
        "related": article_selectors.related_public_articles(article=article),
        # The team's editors see how readers rated the article (readers do not).
        "feedback_counts": article_selectors.feedback_counts(article=article)
        if _is_editor_of(request.user, article)
        else None,
        "feedback_form": feedback_form or FeedbackForm(),
        "thanks": thanks,
        "rate_limited": rate_limited,
    }
    return render(request, "knowledge_base/help_article.html", context, status=status)


def _stored_html(article: KbArticle) -> str:
    """The article's stored HTML, sanitised again on the way out: it was
    sanitised when saved, but a row written another way (a data fix, an import,
    an older and looser allow-list) must not become script in a reader's page."""
    return mark_safe(sanitize_html(article.content_html))  # noqa: S308 - sanitised just now


def _remember_once(request, key: str, article: KbArticle) -> bool:
    """True the first time this session sees the article under `key`."""
    seen = request.session.get(key, [])
    article_id = str(article.pk)
    if article_id in seen:
        return False
    request.session[key] = [*seen, article_id][-SESSION_MEMORY:]
    return True


def _forget(request, key: str, article: KbArticle) -> None:
    request.session[key] = [value for value in request.session.get(key, []) if value != str(article.pk)]


def safe_snippet(article: KbArticle, query: str) -> str:
    """The selector's highlighted snippet, cleaned again so that only <mark> can
    ever reach the page (defence in depth: the page marks it safe)."""
    snippet = snippet_html(article, query)
    return mark_safe(nh3.clean(snippet, tags={"mark"}, attributes={}))  # noqa: S308 - cleaned to <mark> only


def revision_diff(previous, current) -> list[dict]:
    """Unified diff (title, excerpt, content) between two revisions, as rows the
    template escapes: nothing from an article is ever rendered as HTML here."""

    def lines(revision):
        return [f"Title: {revision.title}", f"Excerpt: {revision.excerpt}", "", *revision.content.splitlines()]

    rows = []
    for line in difflib.unified_diff(lines(previous), lines(current), lineterm="", n=2):
        if line.startswith(("---", "+++")):
            continue
        if line.startswith("@@"):
            rows.append({"kind": "hunk", "sign": "", "text": line})
        elif line.startswith("+"):
            rows.append({"kind": "add", "sign": "+", "text": line[1:]})
        elif line.startswith("-"):
            rows.append({"kind": "del", "sign": "-", "text": line[1:]})
        else:
            rows.append({"kind": "ctx", "sign": "", "text": line[1:]})
    return rows
