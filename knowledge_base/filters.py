"""The app's FilterSets (DESIGN §7), shared by the API and the HTML pages."""

from __future__ import annotations

import json

import django_filters
from django.db import connection
from django.db.models import Q

from deelrx.filters import StrictBooleanFilter
from knowledge_base.models import KbArticle, KbProposal, KbUpload
from knowledge_base.selectors.search import article_search

ORDERING_CHOICES = [
    ("-published_at", "Recently published"),
    ("-updated_at", "Recently updated"),
    ("-created_at", "Recently created"),
    ("title", "Title"),
    ("-view_count", "Most viewed"),
    ("rank", "Best match (with q)"),
]
# Ties broken by id so pages never overlap.
_ORDER_BY = {
    "-published_at": ("-published_at", "-updated_at", "id"),
    "-updated_at": ("-updated_at", "id"),
    "-created_at": ("-created_at", "id"),
    "title": ("title", "id"),
    "-view_count": ("-view_count", "-updated_at", "id"),
    "rank": ("-rank", "-published_at", "-updated_at", "id"),
}


def tag_q(tag: str) -> Q:
    """The condition "the tag list contains `tag`" (exactly, on PostgreSQL)."""
    if connection.vendor == "postgresql":
        return Q(tags__contains=[tag])
    # SQLite has no JSON containment: match the JSON-quoted tag inside the list
    # text (case-insensitive there).
    return Q(tags__icontains=json.dumps(tag))


def tag_filter(queryset, tag: str):
    """Articles whose tag list contains `tag` (exactly, on PostgreSQL)."""
    return queryset.filter(tag_q(tag))


class KbArticleFilter(django_filters.FilterSet):
    # Declaration order matters: `q` (which ranks) runs before `ordering`.
    team_id = django_filters.NumberFilter(field_name="team_id")
    status = django_filters.ChoiceFilter(choices=KbArticle.Status.choices)
    category = django_filters.CharFilter(field_name="category")
    tag = django_filters.CharFilter(method="filter_tag")
    is_public = StrictBooleanFilter()
    q = django_filters.CharFilter(method="filter_search", label="Search")
    ordering = django_filters.ChoiceFilter(choices=ORDERING_CHOICES, method="filter_ordering", empty_label="Default")

    class Meta:
        model = KbArticle
        fields = ["team_id", "status", "category", "tag", "is_public", "q", "ordering"]

    def __init__(self, *args, attachment_scope: Q | None = None, **kwargs):
        # Which uploads' text `q` searches besides the articles' own (None: the public store only).
        self.attachment_scope = attachment_scope
        super().__init__(*args, **kwargs)

    def filter_tag(self, queryset, name, value):
        value = value.strip()
        return tag_filter(queryset, value) if value else queryset

    def filter_search(self, queryset, name, value):
        return article_search(queryset=queryset, q=value, attachment_scope=self.attachment_scope)

    def filter_ordering(self, queryset, name, value):
        if value == "rank" and "rank" not in queryset.query.annotations:
            value = "-updated_at"  # rank needs q; otherwise the default order
        return queryset.order_by(*_ORDER_BY[value])


class KbUploadFilter(django_filters.FilterSet):
    team_id = django_filters.NumberFilter(field_name="team_id")
    article_id = django_filters.UUIDFilter(field_name="article_id")
    store = django_filters.ChoiceFilter(choices=KbUpload.Store.choices)

    class Meta:
        model = KbUpload
        fields = ["team_id", "article_id", "store"]


class KbProposalFilter(django_filters.FilterSet):
    """Proposed edits (API list): by team, article and status; a bad value is a 400."""

    team_id = django_filters.NumberFilter(field_name="article__team_id")
    article_id = django_filters.UUIDFilter(field_name="article_id")
    status = django_filters.ChoiceFilter(choices=KbProposal.Status.choices)

    class Meta:
        model = KbProposal
        fields = ["team_id", "article_id", "status"]
