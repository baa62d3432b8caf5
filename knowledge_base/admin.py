"""Django admin for the knowledge base. Article edits and workflow actions go
through the services (rendering, revisions, audit); revisions, feedback and
link checks are read-only records."""

from __future__ import annotations

from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.utils.html import format_html

from deelrx.admin_audit import AuditedModelAdmin
from deelrx.errors import DomainError
from knowledge_base.models import KbArticle, KbFeedback, KbLinkCheck, KbRevision, KbUpload, KbUploadVersion
from knowledge_base.services.articles import EDITABLE_FIELDS, article_delete, article_transition, article_update
from knowledge_base.services.uploads import upload_delete, upload_reprocess, upload_thumbnail_url

Status = KbArticle.Status


class ReadOnlyAdminMixin:
    """History rows: viewable, never written from the admin."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class KbRevisionInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = KbRevision
    extra = 0
    fields = ["number", "title", "note", "edited_by", "created_at"]
    readonly_fields = fields
    ordering = ["-number"]
    show_change_link = True


def _transition_action(target: str, label: str):
    def action(modeladmin, request, queryset):
        moved, failed = 0, []
        for article in queryset.order_by("pk"):
            try:
                article_transition(article=article, user=request.user, status=target, note="Django admin")
                moved += 1
            except DomainError as exc:
                failed.append(f"{article.title}: {exc.message}")
        if moved:
            modeladmin.message_user(request, f"{label}: {moved} article(s).", messages.SUCCESS)
        for message in failed:
            modeladmin.message_user(request, message, messages.ERROR)

    action.__name__ = f"move_to_{target}"
    return admin.action(description=f"{label} selected articles")(action)


@admin.register(KbArticle)
class KbArticleAdmin(AuditedModelAdmin):
    list_display = ["title", "team", "status", "is_public", "category", "author", "view_count", "published_at"]
    list_filter = ["status", "is_public", "team", "category"]
    search_fields = ["title", "slug", "excerpt", "content"]
    list_select_related = ["team", "author"]
    date_hierarchy = "updated_at"
    fields = [
        "id",
        "team",
        "title",
        "slug",
        "status",
        "excerpt",
        "content",
        "category",
        "tags",
        "is_public",
        "author",
        "reviewer",
        "review_note",
        "view_count",
        "published_at",
        "created_at",
        "updated_at",
    ]
    readonly_fields = [
        "id",
        "team",
        "status",
        "author",
        "reviewer",
        "review_note",
        "view_count",
        "published_at",
        "created_at",
        "updated_at",
    ]
    inlines = [KbRevisionInline]
    actions = [
        _transition_action(Status.PUBLISHED, "Publish"),
        _transition_action(Status.ARCHIVED, "Archive"),
        _transition_action(Status.DRAFT, "Move back to draft"),
    ]

    def has_add_permission(self, request) -> bool:
        # Articles are written in the app (/kb/) or the API, where their author is a team member.
        return False

    def save_model(self, request, obj, form, change):
        fields = {name: form.cleaned_data[name] for name in form.changed_data if name in EDITABLE_FIELDS}
        try:
            article_update(article=KbArticle.objects.get(pk=obj.pk), user=request.user, note="Django admin", **fields)
        except DomainError as exc:
            request.kb_save_refused = True  # for response_change: no "changed successfully" after this
            self.message_user(request, f"Not saved: {exc.message} {exc.details or ''}", messages.ERROR)
        obj.refresh_from_db()

    def response_change(self, request, obj):
        if getattr(request, "kb_save_refused", False):
            # Back to the form with only the service's refusal, not Django's success message.
            return HttpResponseRedirect(request.path)
        return super().response_change(request, obj)

    def delete_model(self, request, obj):
        article_delete(article=obj, user=request.user)

    def delete_queryset(self, request, queryset):
        for article in queryset.order_by("pk"):
            article_delete(article=article, user=request.user)


@admin.register(KbRevision)
class KbRevisionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["article", "number", "title", "edited_by", "created_at"]
    list_filter = ["article__team"]
    search_fields = ["article__title", "title", "note"]
    list_select_related = ["article", "edited_by"]
    readonly_fields = ["article", "number", "title", "content", "excerpt", "note", "edited_by", "created_at"]


@admin.register(KbFeedback)
class KbFeedbackAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["article", "helpful", "user", "short_comment", "created_at"]
    list_filter = ["helpful", "article__team"]
    search_fields = ["article__title", "comment"]
    list_select_related = ["article", "user"]
    readonly_fields = ["article", "user", "helpful", "comment", "created_at"]

    @admin.display(description="comment")
    def short_comment(self, obj) -> str:
        return obj.comment[:80]


@admin.register(KbLinkCheck)
class KbLinkCheckAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["url", "article", "ok", "status_code", "checked_at"]
    list_filter = ["ok", "article__team"]
    search_fields = ["url", "article__title", "error"]
    list_select_related = ["article"]
    readonly_fields = ["article", "url", "status_code", "ok", "error", "checked_at"]


class KbUploadVersionInline(admin.TabularInline):
    """Every content the upload has had (read-only: versions change through the
    upload API and the editor, pruning through admin-retention-enforce)."""

    model = KbUploadVersion
    extra = 0
    can_delete = False
    ordering = ["-number"]
    fields = ["number", "original_name", "content_type", "size", "stored_size", "sha256", "created_by", "created_at"]
    readonly_fields = fields
    show_change_link = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("created_by")

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.action(description="Process again (thumbnail and text)")
def reprocess_uploads(modeladmin, request, queryset):
    queued = 0
    for upload in queryset.order_by("pk"):
        try:
            upload_reprocess(upload=upload, user=request.user)
        except DomainError as exc:
            modeladmin.message_user(request, f"{upload.original_name}: {exc.message}", messages.ERROR)
        else:
            queued += 1
    if queued:
        modeladmin.message_user(request, f"{queued} upload(s) queued for processing.", messages.SUCCESS)


@admin.register(KbUpload)
class KbUploadAdmin(AuditedModelAdmin):
    inlines = [KbUploadVersionInline]
    actions = [reprocess_uploads]
    list_display = [
        "original_name",
        "team",
        "store",
        "context",
        "content_type",
        "size",
        "version",
        "processing_status",
        "article",
        "created_at",
    ]
    list_filter = ["store", "context", "processing_status", "team"]
    search_fields = ["original_name", "key", "sha256"]
    list_select_related = ["team", "article"]
    readonly_fields = [
        "id",
        "team",
        "article",
        "store",
        "context",
        "key",
        "original_name",
        "content_type",
        "size",
        "sha256",
        "uploaded_by",
        "created_at",
        "version",
        "processing_status",
        "processing_error",
        "processed_at",
        "thumbnail",
        "thumbnail_key",
        "extracted_text",
    ]

    @admin.display(description="thumbnail")
    def thumbnail(self, obj):
        url = upload_thumbnail_url(obj)
        if not url:
            return "—"
        return format_html('<img src="{}" alt="" style="max-width:320px;max-height:320px">', url)

    def has_add_permission(self, request) -> bool:
        return False  # files arrive through the upload API (sniffing, size limits)

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # moving between stores is the blob manager's job

    def delete_model(self, request, obj):
        upload_delete(upload=obj, user=request.user)

    def delete_queryset(self, request, queryset):
        for upload in queryset.order_by("pk"):
            upload_delete(upload=upload, user=request.user)
