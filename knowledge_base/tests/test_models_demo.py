"""Demo data (seed_demo): every workflow state, some public, idempotent."""

from io import StringIO

from django.core.management import call_command

from knowledge_base.models import KbArticle, KbRevision


def test_seed_demo_is_idempotent_and_covers_every_state(db):
    call_command("seed_demo", stdout=StringIO())
    articles, revisions = KbArticle.objects.count(), KbRevision.objects.count()
    call_command("seed_demo", stdout=StringIO())
    assert (KbArticle.objects.count(), KbRevision.objects.count()) == (articles, revisions)
    assert set(KbArticle.objects.values_list("status", flat=True)) == {"draft", "review", "published", "archived"}
    assert KbArticle.objects.filter(status="published", is_public=True).count() >= 2
    assert all(a.content_html for a in KbArticle.objects.all())
