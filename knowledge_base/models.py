"""Knowledge base: articles (with revisions, feedback and link checks) and uploads."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.db import models


class PortableGinIndex(GinIndex):
    """A GIN index on PostgreSQL; a plain index elsewhere.

    The project also runs on SQLite (`make run` without configuration), where
    `USING gin` is a syntax error. The search vector is only ever filled on
    PostgreSQL, so the fallback index is merely harmless.
    """

    def create_sql(self, model, schema_editor, using="", **kwargs):
        if schema_editor.connection.vendor != "postgresql":
            # Operator classes (gin_trgm_ops) are PostgreSQL's too.
            plain = models.Index(fields=self.fields, name=self.name)
            return plain.create_sql(model, schema_editor, **kwargs)
        return super().create_sql(model, schema_editor, using=using, **kwargs)


class KbArticle(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        REVIEW = "review", "In review"
        PUBLISHED = "published", "Published"
        ARCHIVED = "archived", "Archived"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    team = models.ForeignKey("tenancy.Team", on_delete=models.CASCADE, related_name="kb_articles")
    title = models.CharField(max_length=200)
    slug = models.SlugField(max_length=220)
    content = models.TextField(blank=True, help_text="Markdown.")
    content_html = models.TextField(blank=True, editable=False, help_text="Rendered and sanitised from content.")
    excerpt = models.TextField(max_length=500, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.DRAFT)
    category = models.CharField(max_length=80, blank=True, db_index=True)
    # A JSON list of strings rather than an ArrayField so that SQLite works too.
    tags = models.JSONField(default=list, blank=True)
    is_public = models.BooleanField(default=False)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="kb_articles"
    )
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="kb_reviews"
    )
    review_note = models.TextField(blank=True)
    view_count = models.PositiveIntegerField(default=0)
    published_at = models.DateTimeField(null=True, blank=True)
    # Filled by the article services on PostgreSQL (not a trigger); always NULL on SQLite.
    search_vector = SearchVectorField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "article"
        ordering = ["-updated_at", "id"]
        constraints = [models.UniqueConstraint(fields=["team", "slug"], name="kb_article_unique_team_slug")]
        indexes = [
            models.Index(fields=["team", "status", "-updated_at"], name="kb_article_team_status"),
            models.Index(fields=["status", "is_public", "-published_at"], name="kb_article_public"),
            models.Index(fields=["team", "category"], name="kb_article_team_category"),
            PortableGinIndex(fields=["search_vector"], name="kb_article_search_gin"),
            # "Did you mean": pg_trgm's %> on titles and excerpts (selectors.search.similar_articles).
            PortableGinIndex(fields=["title"], name="kb_article_title_trgm", opclasses=["gin_trgm_ops"]),
            PortableGinIndex(fields=["excerpt"], name="kb_article_excerpt_trgm", opclasses=["gin_trgm_ops"]),
        ]

    def __str__(self) -> str:
        return self.title


class KbRevision(models.Model):
    """A snapshot of an article after each edit; numbered 1, 2, 3… per article."""

    article = models.ForeignKey(KbArticle, on_delete=models.CASCADE, related_name="revisions")
    number = models.PositiveIntegerField()
    title = models.CharField(max_length=200)
    content = models.TextField(blank=True)
    excerpt = models.TextField(blank=True)
    note = models.TextField(blank=True)
    edited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="kb_revisions"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "revision"
        ordering = ["article_id", "-number"]
        constraints = [models.UniqueConstraint(fields=["article", "number"], name="kb_revision_unique_number")]

    def __str__(self) -> str:
        return f"{self.article} #{self.number}"


class KbUpload(models.Model):
    """A stored file. `key` always holds the current version's content (so a public URL stays
    the same across versions); `versions` records every content it has had, this one included."""

    class Store(models.TextChoices):
        PRIVATE = "private", "Private"
        PUBLIC = "public", "Public"

    class Processing(models.TextChoices):
        PENDING = "pending", "Pending"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Skipped"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    team = models.ForeignKey("tenancy.Team", on_delete=models.CASCADE, related_name="kb_uploads")
    article = models.ForeignKey(KbArticle, on_delete=models.SET_NULL, null=True, blank=True, related_name="uploads")
    store = models.CharField(max_length=10, choices=Store.choices)
    context = models.CharField(max_length=40, default="user-upload")
    key = models.CharField(max_length=512, unique=True)
    original_name = models.CharField(max_length=255)
    content_type = models.CharField(max_length=120)
    size = models.BigIntegerField()
    sha256 = models.CharField(max_length=64)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="kb_uploads"
    )
    # Bytes in the store: smaller than `size` when the store keeps the file gzip-encoded;
    # null when not measured (files stored before compression was recorded).
    stored_size = models.BigIntegerField(null=True, blank=True)
    version = models.PositiveIntegerField(default=1)
    # Thumbnail and text extraction, done by a queued task after the upload is stored.
    processing_status = models.CharField(max_length=10, choices=Processing.choices, default=Processing.PENDING)
    processing_error = models.TextField(blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    thumbnail_key = models.CharField(max_length=512, blank=True)
    extracted_text = models.TextField(blank=True)
    # Filled with the extracted text on PostgreSQL (as the article's); always NULL on SQLite.
    search_vector = SearchVectorField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "upload"
        ordering = ["-created_at", "id"]
        indexes = [
            models.Index(fields=["team", "-created_at"], name="kb_upload_team_created"),
            models.Index(fields=["article", "-created_at"], name="kb_upload_article"),
            models.Index(fields=["store", "created_at"], name="kb_upload_store_created"),
            PortableGinIndex(fields=["search_vector"], name="kb_upload_search_gin"),
            models.Index(
                fields=["processing_status", "created_at"],
                name="kb_upload_processing_open",
                condition=models.Q(processing_status__in=["pending", "failed"]),
            ),
        ]

    def __str__(self) -> str:
        return self.original_name


class KbUploadVersion(models.Model):
    """One content an upload has had, numbered 1, 2, 3… per upload; the highest is the current one
    (at the upload's key). An older one lives at its own key (a copy) or, on an S3 bucket that keeps
    versions, at the upload's key under `storage_version_id`."""

    upload = models.ForeignKey(KbUpload, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    key = models.CharField(max_length=512)
    storage_version_id = models.CharField(max_length=1024, blank=True)
    original_name = models.CharField(max_length=255)
    content_type = models.CharField(max_length=120)
    size = models.BigIntegerField()
    stored_size = models.BigIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="kb_upload_versions",
    )
    created_at = models.DateTimeField()

    class Meta:
        verbose_name = "upload version"
        ordering = ["upload_id", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["upload", "number"], name="kb_upload_version_unique_number"),
        ]
        indexes = [models.Index(fields=["created_at"], name="kb_upload_version_created")]

    def __str__(self) -> str:
        return f"{self.upload} v{self.number}"


class KbFeedback(models.Model):
    """ "Was this helpful?" — user is null for anonymous help-center feedback."""

    article = models.ForeignKey(KbArticle, on_delete=models.CASCADE, related_name="feedback")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="kb_feedback"
    )
    helpful = models.BooleanField()
    comment = models.TextField(max_length=2000, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "feedback"
        verbose_name_plural = "feedback"
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["article", "-created_at"], name="kb_feedback_article")]

    def __str__(self) -> str:
        return f"{'Helpful' if self.helpful else 'Not helpful'}: {self.article}"


class KbLinkCheck(models.Model):
    """The latest check result of one link in one article (updated in place)."""

    article = models.ForeignKey(KbArticle, on_delete=models.CASCADE, related_name="link_checks")
    url = models.URLField(max_length=2000)
    status_code = models.PositiveIntegerField(null=True, blank=True)
    ok = models.BooleanField(default=False)
    error = models.TextField(blank=True)
    checked_at = models.DateTimeField()

    class Meta:
        verbose_name = "link check"
        ordering = ["article_id", "url"]
        constraints = [models.UniqueConstraint(fields=["article", "url"], name="kb_linkcheck_unique_article_url")]
        indexes = [models.Index(fields=["ok", "-checked_at"], name="kb_linkcheck_ok")]

    def __str__(self) -> str:
        return f"{self.url} ({'ok' if self.ok else 'broken'})"


class KbProposal(models.Model):
    """A proposed edit of a published article by a team member who may not edit
    it directly: a draft revision that an admin or owner accepts (it becomes the
    article's next revision) or declines with a note."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for review"
        ACCEPTED = "accepted", "Accepted"
        DECLINED = "declined", "Declined"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    article = models.ForeignKey(KbArticle, on_delete=models.CASCADE, related_name="proposals")
    base_revision = models.PositiveIntegerField(help_text="The article's revision the proposal was written against.")
    title = models.CharField(max_length=200)
    excerpt = models.TextField(blank=True)
    content = models.TextField(blank=True)
    note = models.TextField(blank=True, help_text="Why the change is proposed.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="kb_proposals"
    )
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="kb_proposals_reviewed",
    )
    review_note = models.TextField(blank=True)
    reviewed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "proposed edit"
        ordering = ["-created_at", "id"]
        indexes = [models.Index(fields=["article", "status", "-created_at"], name="kb_proposal_article_status")]

    def __str__(self) -> str:
        return f"Proposed edit of {self.article}"
