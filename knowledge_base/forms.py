"""HTML forms of the knowledge base. They only parse input; the rules live in
the services (knowledge_base.services.*), whose refusals are shown on the form."""

from __future__ import annotations

from django import forms

from knowledge_base.services import articles as article_service

# Upload contexts offered in the editor: the store follows from the context
# (deelrx.storage.determine_store_type), so this is the public/private choice.
ATTACHMENT_CONTEXTS = [
    ("kb-article", "Public: shown with the article in the help center"),
    ("user-upload", "Private: staff of this team only"),
]


def parse_tags(value: str) -> list[str]:
    """'a, b,,A ' → ['a', 'b', 'A']: the comma-separated parts; the service trims,
    drops empty ones and keeps one spelling of each tag."""
    return [part for part in (value or "").split(",") if part.strip()]


class ArticleForm(forms.Form):
    title = forms.CharField(max_length=article_service.TITLE_MAX_LENGTH)
    slug = forms.SlugField(
        max_length=article_service.SLUG_MAX_LENGTH,
        required=False,
        help_text="Part of the help center URL; generated from the title when empty.",
    )
    excerpt = forms.CharField(
        required=False,
        max_length=article_service.EXCERPT_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="One or two sentences.",
    )
    category = forms.CharField(max_length=article_service.CATEGORY_MAX_LENGTH, required=False)
    tags = forms.CharField(required=False, max_length=500, help_text="Comma-separated, e.g. billing, refunds")
    is_public = forms.BooleanField(required=False, label="Show in the public help center once published")
    content = forms.CharField(
        label="Content (Markdown)",
        widget=forms.Textarea(attrs={"rows": 18, "class": "kb-content", "spellcheck": "true"}),
    )
    note = forms.CharField(
        required=False,
        max_length=article_service.NOTE_MAX_LENGTH,
        label="What changed",
        help_text="Saved with this revision (optional).",
    )

    def __init__(self, *args, editing: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if not editing:
            # The first revision needs no change note.
            del self.fields["note"]

    def clean_tags(self) -> list[str]:
        # Length and count limits are the service's rules (shown on this field).
        return parse_tags(self.cleaned_data.get("tags", ""))

    def clean_category(self) -> str:
        return self.cleaned_data.get("category", "").strip()

    @staticmethod
    def initial_for(article) -> dict:
        return {
            "title": article.title,
            "slug": article.slug,
            "excerpt": article.excerpt,
            "category": article.category,
            "tags": ", ".join(article.tags or []),
            "is_public": article.is_public,
            "content": article.content,
        }


class TransitionForm(forms.Form):
    status = forms.CharField(max_length=20)
    note = forms.CharField(required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 3}))


class AttachmentForm(forms.Form):
    file = forms.FileField()
    # The editor sets the initial choice from the article (internal → private); private is the safe default.
    context = forms.ChoiceField(choices=ATTACHMENT_CONTEXTS, initial="user-upload", label="Visibility")


class AttachmentVersionForm(forms.Form):
    """A new version of an attachment: the same type as the current file (checked by the service)."""

    file = forms.FileField(label="New version")


class FeedbackForm(forms.Form):
    helpful = forms.TypedChoiceField(
        choices=[("yes", "Yes"), ("no", "No")],
        coerce=lambda value: value == "yes",
        widget=forms.RadioSelect,
        label="Was this article helpful?",
    )
    comment = forms.CharField(
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
        label="Anything we should add or fix? (optional)",
    )


class HelpSearchForm(forms.Form):
    q = forms.CharField(required=False, max_length=200, label="Search the help center")


class ProposalForm(forms.Form):
    """A proposed edit of a published article: what the member would have saved."""

    title = forms.CharField(max_length=article_service.TITLE_MAX_LENGTH)
    excerpt = forms.CharField(
        required=False,
        max_length=article_service.EXCERPT_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    content = forms.CharField(
        label="Content (Markdown)",
        widget=forms.Textarea(attrs={"rows": 18, "class": "kb-content", "spellcheck": "true"}),
    )
    note = forms.CharField(
        required=False,
        max_length=article_service.NOTE_MAX_LENGTH,
        label="Why this change",
        help_text="For the reviewer (optional).",
    )


class ProposalReviewForm(forms.Form):
    decision = forms.ChoiceField(choices=[("accept", "Accept"), ("decline", "Decline")])
    note = forms.CharField(required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))
