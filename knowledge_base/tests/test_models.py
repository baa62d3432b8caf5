"""Creating and editing articles: slugs, revisions, rendering, audit events."""

import pytest
from django.db import IntegrityError

from deelrx.audit.models import ActivityEvent
from deelrx.errors import PermissionDenied, ValidationFailed
from knowledge_base.models import KbArticle, KbRevision
from knowledge_base.services.articles import article_create, article_update
from knowledge_base.tests.factories import KbArticleFactory


def test_create_starts_a_draft_with_rendered_html_and_revision_one(team, member):
    article = article_create(team=team, user=member, title="  Refund policy ", content="# Refunds\n\n**Fast**")
    assert article.status == KbArticle.Status.DRAFT
    assert article.title == "Refund policy"
    assert article.slug == "refund-policy"
    assert article.author == member
    assert "<strong>Fast</strong>" in article.content_html
    revision = article.revisions.get()
    assert (revision.number, revision.title, revision.edited_by) == (1, "Refund policy", member)
    event = ActivityEvent.objects.get(event_type="kb.article.created")
    assert event.event_data["article_id"] == str(article.pk)
    assert event.user == member


def test_viewer_cannot_create(team, viewer):
    with pytest.raises(PermissionDenied):
        article_create(team=team, user=viewer, title="x", content="y")


def test_generated_slugs_are_unique_per_team(team, other_team, member, outsider):
    slugs = [article_create(team=team, user=member, title="Getting started", content="").slug for _ in range(3)]
    assert slugs == ["getting-started", "getting-started-2", "getting-started-3"]
    # Another team has its own slug space.
    assert article_create(team=other_team, user=outsider, title="Getting started", content="").slug == (
        "getting-started"
    )


def test_slug_suffix_skips_taken_numbers(team, member):
    KbArticleFactory(team=team, slug="faq")
    KbArticleFactory(team=team, slug="faq-2")
    KbArticleFactory(team=team, slug="faq-3")
    assert article_create(team=team, user=member, title="FAQ", content="").slug == "faq-4"


def test_title_without_latin_characters_still_gets_a_slug(team, member):
    assert article_create(team=team, user=member, title="???", content="").slug == "article"


def test_explicit_slug_must_be_free_and_well_formed(team, member):
    article_create(team=team, user=member, title="One", content="", slug="shared")
    with pytest.raises(ValidationFailed) as info:
        article_create(team=team, user=member, title="Two", content="", slug="shared")
    assert "slug" in info.value.details
    with pytest.raises(ValidationFailed):
        article_create(team=team, user=member, title="Two", content="", slug="Not A Slug")


def test_database_enforces_unique_slug_per_team(team):
    KbArticleFactory(team=team, slug="dup")
    with pytest.raises(IntegrityError):
        KbArticleFactory(team=team, slug="dup")


def test_blank_title_is_a_validation_error(team, member):
    with pytest.raises(ValidationFailed) as info:
        article_create(team=team, user=member, title="  ", content="x")
    assert info.value.details == {"title": ["This field may not be blank."]}


def test_too_long_title_is_a_validation_error(team, member):
    with pytest.raises(ValidationFailed) as info:
        article_create(team=team, user=member, title="x" * 201, content="x")
    assert "title" in info.value.details


@pytest.mark.parametrize("tags", ["not-a-list", [1, 2], ["x" * 41], [f"t{i}" for i in range(21)]])
def test_bad_tags_are_rejected(team, member, tags):
    with pytest.raises(ValidationFailed) as info:
        article_create(team=team, user=member, title="T", content="", tags=tags)
    assert "tags" in info.value.details


def test_tags_are_trimmed_and_deduplicated(team, member):
    article = article_create(team=team, user=member, title="T", content="", tags=[" billing ", "billing", "", "faq"])
    assert article.tags == ["billing", "faq"]


def test_tags_differing_only_in_case_are_one_tag_in_the_api_and_the_form_alike(team, member):
    article = article_create(team=team, user=member, title="T", content="", tags=["Billing", "billing", "BILLING"])
    assert article.tags == ["Billing"]
    from knowledge_base.forms import ArticleForm

    form = ArticleForm(data={"title": "T", "content": "x", "tags": "Billing, billing"})
    assert form.is_valid(), form.errors
    created = article_create(team=team, user=member, **{k: form.cleaned_data[k] for k in ("title", "content", "tags")})
    assert created.tags == ["Billing"]


def test_every_edit_saves_a_numbered_revision(team, member):
    article = article_create(team=team, user=member, title="V1", content="one")
    article = article_update(article=article, user=member, title="V2", note="typo")
    article = article_update(article=article, user=member, content="three")
    revisions = list(KbRevision.objects.filter(article=article).order_by("number"))
    assert [(r.number, r.title, r.content) for r in revisions] == [
        (1, "V1", "one"),
        (2, "V2", "one"),
        (3, "V2", "three"),
    ]
    assert revisions[1].note == "typo"
    assert ActivityEvent.objects.filter(event_type="kb.article.updated").count() == 2


def test_edit_without_changes_saves_nothing(team, member):
    article = article_create(team=team, user=member, title="Same", content="c")
    article_update(article=article, user=member, title="Same", content="c")
    assert article.revisions.count() == 1
    assert not ActivityEvent.objects.filter(event_type="kb.article.updated").exists()


def test_edit_re_renders_html_and_keeps_slug_when_title_changes(team, member):
    article = article_create(team=team, user=member, title="Old title", content="*a*")
    article = article_update(article=article, user=member, title="New title", content="<script>x</script>**b**")
    assert article.slug == "old-title"
    assert article.content_html == "<p><strong>b</strong></p>"


def test_edit_can_change_the_slug_when_free(team, member):
    KbArticleFactory(team=team, slug="taken")
    article = article_create(team=team, user=member, title="A", content="")
    with pytest.raises(ValidationFailed):
        article_update(article=article, user=member, slug="taken")
    assert article_update(article=article, user=member, slug="fresh").slug == "fresh"


def test_unknown_fields_are_refused(team, member):
    article = article_create(team=team, user=member, title="A", content="")
    with pytest.raises(ValidationFailed) as info:
        article_update(article=article, user=member, status="published", view_count=9)
    assert set(info.value.details) == {"status", "view_count"}


@pytest.mark.postgres
def test_search_vector_is_filled_on_postgres(team, member):
    article = article_create(team=team, user=member, title="Running shoes", content="about feet")
    article.refresh_from_db()
    assert "run" in str(article.search_vector)
    article_update(article=article, user=member, content="Swimming pools")
    article.refresh_from_db()
    assert "swim" in str(article.search_vector)


def test_overlong_excerpt_is_a_validation_error(team, member):
    with pytest.raises(ValidationFailed) as info:
        article_create(team=team, user=member, title="T", content="", excerpt="x" * 501)
    assert "excerpt" in info.value.details


def test_generated_slug_taken_concurrently_is_retried_with_the_next_suffix(team, member, monkeypatch):
    from knowledge_base.services import articles as services

    KbArticleFactory(team=team, slug="race")
    real_free_slug = services._free_slug
    calls = []

    def stale_free_slug(**kwargs):
        # The first lookup happens "before" the other writer committed "race".
        calls.append(kwargs)
        return "race" if len(calls) == 1 else real_free_slug(**kwargs)

    monkeypatch.setattr(services, "_free_slug", stale_free_slug)
    article = article_create(team=team, user=member, title="Race", content="")
    assert article.slug == "race-2"
    assert len(calls) == 2


def test_explicit_slug_taken_concurrently_is_a_validation_error(team, member, monkeypatch):
    from knowledge_base.services import articles as services

    KbArticleFactory(team=team, slug="mine")
    # The other writer commits between our check and our insert.
    monkeypatch.setattr(services, "_slug_taken", lambda **kwargs: kwargs.get("exclude_pk") is not None)
    with pytest.raises(ValidationFailed) as info:
        article_create(team=team, user=member, title="Mine", content="", slug="mine")
    assert "slug" in info.value.details


def test_uploads_are_registered_with_the_blob_manager():
    from deelrx.storage import blob_references

    assert ("knowledge_base.KbUpload", "key", "store") in blob_references()


def test_gin_index_is_plain_outside_postgres(db, is_postgres):
    from django.db import connection

    with connection.cursor() as cursor:
        indexes = connection.introspection.get_constraints(cursor, KbArticle._meta.db_table)
    index = indexes["kb_article_search_gin"]
    assert index["columns"] == ["search_vector"]
    assert index["type"] == ("gin" if is_postgres else "idx")
