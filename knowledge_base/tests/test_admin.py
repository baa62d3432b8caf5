"""Django admin pages for the knowledge base; edits and actions go through the services."""

import pytest

from deelrx.audit.models import ActivityEvent
from knowledge_base.models import KbArticle, KbLinkCheck, KbUpload
from knowledge_base.tests.factories import KbArticleFactory, KbFeedbackFactory, KbRevisionFactory

Status = KbArticle.Status


@pytest.fixture
def admin_client_(client, superuser):
    client.force_login(superuser)
    return client


@pytest.fixture
def records(team):
    from django.utils import timezone

    article = KbArticleFactory(team=team, title="Cash handling", status=Status.REVIEW)
    revision = KbRevisionFactory(article=article, number=1)
    feedback = KbFeedbackFactory(article=article, comment="Great")
    link = KbLinkCheck.objects.create(article=article, url="https://example.com/", ok=True, checked_at=timezone.now())
    upload = KbUpload.objects.create(
        team=team,
        article=article,
        store="private",
        key="private/kb/x/file.pdf",
        original_name="file.pdf",
        content_type="application/pdf",
        size=10,
        sha256="0" * 64,
    )
    return {
        "kbarticle": article,
        "kbrevision": revision,
        "kbfeedback": feedback,
        "kblinkcheck": link,
        "kbupload": upload,
    }


@pytest.mark.parametrize("model", ["kbarticle", "kbrevision", "kbfeedback", "kblinkcheck", "kbupload"])
def test_changelist_and_change_pages_load(admin_client_, records, model):
    response = admin_client_.get(f"/django-admin/knowledge_base/{model}/")
    assert response.status_code == 200
    response = admin_client_.get(f"/django-admin/knowledge_base/{model}/{records[model].pk}/change/")
    assert response.status_code == 200


def test_article_search_and_filters(admin_client_, records):
    response = admin_client_.get("/django-admin/knowledge_base/kbarticle/", {"q": "cash", "status__exact": "review"})
    assert response.status_code == 200
    assert "Cash handling" in response.content.decode()


def test_history_records_cannot_be_added_or_changed(admin_client_, records):
    assert admin_client_.get("/django-admin/knowledge_base/kbrevision/add/").status_code == 403
    assert admin_client_.get("/django-admin/knowledge_base/kbarticle/add/").status_code == 403
    assert admin_client_.get("/django-admin/knowledge_base/kbupload/add/").status_code == 403
    response = admin_client_.post(
        f"/django-admin/knowledge_base/kbfeedback/{records['kbfeedback'].pk}/change/", {"comment": "x"}
    )
    assert response.status_code == 403


def test_publish_action_goes_through_the_service(admin_client_, records, superuser):
    article = records["kbarticle"]
    draft = KbArticleFactory(team=article.team, status=Status.DRAFT)
    response = admin_client_.post(
        "/django-admin/knowledge_base/kbarticle/",
        {"action": "move_to_published", "_selected_action": [str(article.pk), str(draft.pk)]},
        follow=True,
    )
    assert response.status_code == 200
    article.refresh_from_db()
    draft.refresh_from_db()
    assert article.status == Status.PUBLISHED
    assert article.published_at is not None
    assert draft.status == Status.DRAFT  # draft → published is not a move
    body = response.content.decode()
    assert "Publish: 1 article(s)." in body
    assert "Cannot move from" in body
    assert ActivityEvent.objects.filter(event_type="kb.article.published", user=superuser).exists()


def test_archive_action(admin_client_, team):
    article = KbArticleFactory(team=team, status=Status.PUBLISHED)
    admin_client_.post(
        "/django-admin/knowledge_base/kbarticle/",
        {"action": "move_to_archived", "_selected_action": [str(article.pk)]},
    )
    article.refresh_from_db()
    assert article.status == Status.ARCHIVED


def test_editing_in_the_admin_renders_and_saves_a_revision(admin_client_, team):
    article = KbArticleFactory(team=team, title="Old", slug="old", content="old")
    response = admin_client_.post(
        f"/django-admin/knowledge_base/kbarticle/{article.pk}/change/",
        {
            "title": "New",
            "slug": "old",
            "excerpt": "",
            "content": "**new** <script>x</script>",
            "category": "",
            "tags": "[]",
            "is_public": "on",
            "kbrevision_set-TOTAL_FORMS": "0",
            "kbrevision_set-INITIAL_FORMS": "0",
            "revisions-TOTAL_FORMS": "0",
            "revisions-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    article.refresh_from_db()
    assert article.title == "New"
    assert article.is_public
    assert article.content_html == "<p><strong>new</strong> </p>"
    assert article.revisions.get().note == "Django admin"
    assert ActivityEvent.objects.filter(event_type="kb.article.updated").exists()


def test_a_refused_admin_edit_shows_only_the_refusal(admin_client_, team):
    KbArticleFactory(team=team, slug="taken")
    article = KbArticleFactory(team=team, title="Mine", slug="mine", content="c")
    url = f"/django-admin/knowledge_base/kbarticle/{article.pk}/change/"
    data = {"title": "Mine", "slug": "taken", "excerpt": "", "content": "c", "category": "", "tags": "[]"}
    data.update({"revisions-TOTAL_FORMS": "0", "revisions-INITIAL_FORMS": "0"})
    response = admin_client_.post(url, data, follow=True)
    shown = [str(m) for m in response.context["messages"]]
    # Regression: Django's "was changed successfully" used to follow the refusal.
    assert len(shown) == 1
    assert shown[0].startswith("Not saved:")
    assert "slug" in shown[0]
    assert response.redirect_chain[-1][0] == url
    article.refresh_from_db()
    assert article.slug == "mine"


def test_deleting_an_article_in_the_admin_is_audited(admin_client_, team):
    article = KbArticleFactory(team=team)
    response = admin_client_.post(f"/django-admin/knowledge_base/kbarticle/{article.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not KbArticle.objects.filter(pk=article.pk).exists()
    assert ActivityEvent.objects.filter(event_type="kb.article.deleted").exists()
