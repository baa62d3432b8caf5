"""Search by attachment text (DESIGN §15): an article is found by its
attachments' extracted text, ranked below articles matching by their own
text, with the attachment named in the snippet — and a private attachment's
text never reaches the help center or another team."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from knowledge_base.models import KbUpload
from knowledge_base.selectors.articles import article_list, public_articles
from knowledge_base.services.uploads import upload_create
from knowledge_base.tests.processing_helpers import image_bytes, needs_tesseract, text_image, text_pdf
from knowledge_base.tests.test_help_center import publish

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

ARTICLES = "/api/help/articles/"


def attach(article, user, data: bytes, name: str, *, context: str, capture) -> KbUpload:
    """Store an attachment of the article and process it (the queued task runs at the commit)."""
    with capture(execute=True):
        upload = upload_create(
            team=article.team, user=user, file=SimpleUploadedFile(name, data), context=context, article=article
        )
    upload.refresh_from_db()
    assert upload.processing_status == KbUpload.Processing.DONE, upload.processing_error
    return upload


@pytest.fixture
def attach_to(admin_user, django_capture_on_commit_callbacks):
    def make(article, data, name, *, context="kb-article"):
        return attach(article, admin_user, data, name, context=context, capture=django_capture_on_commit_callbacks)

    return make


@pytest.fixture
def manual(team, member, admin_user):
    return publish(team, member, admin_user, title="Returns manual", content="How to send goods back.")


def api_search(client, q):
    response = client.get(ARTICLES, {"q": q})
    assert response.status_code == 200, response.content
    return response.json()["results"]


def help_page(client, q) -> str:
    return client.get(reverse("help:index"), {"q": q}).content.decode()


@needs_tesseract
def test_ocr_text_of_an_image_finds_the_article(api_as, member, manual, attach_to):
    attach_to(manual, image_bytes("png", image=text_image("Quokka invoice 4711")), "invoice-scan.png")
    results = api_search(api_as(member), "quokka")
    assert [r["id"] for r in results] == [str(manual.pk)]
    assert results[0]["snippet"].startswith("In attachment invoice-scan.png: ")
    assert "<mark>Quokka</mark>" in results[0]["snippet"]


def test_pdf_text_finds_the_article_with_the_attachment_named(api_as, member, manual, attach_to):
    attach_to(manual, text_pdf("Wombat collection points are listed here."), "wombat-points.pdf")
    results = api_search(api_as(member), "wombat")
    assert [r["id"] for r in results] == [str(manual.pk)]
    snippet = results[0]["snippet"]
    assert snippet.startswith("In attachment wombat-points.pdf: ")
    assert "<mark>Wombat</mark>" in snippet


def test_own_text_ranks_above_attachment_text(api_as, team, member, admin_user, manual, attach_to):
    attach_to(manual, text_pdf("Wombat wombat wombat: every wombat detail."), "wombats.pdf")
    own = publish(team, member, admin_user, title="Delivery", content="We deliver once to each wombat burrow.")
    results = api_search(api_as(member), "wombat")
    assert [r["id"] for r in results] == [str(own.pk), str(manual.pk)]
    assert not results[0]["snippet"].startswith("In attachment")
    ranks = {a.pk: a.rank for a in article_list(user=member, filters={"q": "wombat"})}
    assert ranks[own.pk] > ranks[manual.pk]


def test_article_matching_by_its_own_text_quotes_its_own_text(api_as, member, manual, attach_to):
    attach_to(manual, text_pdf("Goods go back within thirty days."), "returns.pdf")
    results = api_search(api_as(member), "goods")
    assert len(results) == 1
    assert not results[0]["snippet"].startswith("In attachment")


def test_public_attachment_text_is_found_in_the_help_center(client, manual, attach_to):
    attach_to(manual, text_pdf("Echidna parcels need a signature."), "echidna.pdf")
    page = help_page(client, "echidna")
    assert manual.title in page
    assert "In attachment echidna.pdf:" in page
    assert "<mark>Echidna</mark>" in page


def test_private_attachment_text_never_reaches_the_public_or_other_teams(
    client, api_as, member, outsider, viewer, manual, attach_to
):
    secret = attach_to(manual, text_pdf("Bandicoot account number 55 01."), "bank.pdf", context="invoice")
    assert secret.store == "private"
    # The help center, anonymous readers and another team's API search: nothing.
    assert "Returns manual" not in help_page(client, "bandicoot")
    assert "Bandicoot" not in help_page(client, "bandicoot")
    assert not public_articles(filters={"q": "bandicoot"}).exists()
    assert api_search(api_as(outsider), "bandicoot") == []
    # The team's own members find it (the file is theirs).
    assert [r["id"] for r in api_search(api_as(viewer), "bandicoot")] == [str(manual.pk)]


def test_attachments_of_unpublished_articles_are_not_public(client, api_as, outsider, team, member, attach_to):
    from knowledge_base.services.articles import article_create

    draft = article_create(team=team, user=member, title="Draft notes", content="Nothing yet.", is_public=True)
    attach_to(draft, text_pdf("Platypus pricing for next year."), "pricing.pdf")
    assert "Draft notes" not in help_page(client, "platypus")
    assert api_search(api_as(outsider), "platypus") == []
    assert [r["id"] for r in api_search(api_as(member), "platypus")] == [str(draft.pk)]


def test_staff_search_finds_articles_by_attachment_text(client_as, member, manual, attach_to):
    attach_to(manual, text_pdf("Cassowary handling guide."), "cassowary.pdf", context="user-upload")
    page = client_as(member).get(reverse("knowledge_base:index"), {"q": "cassowary"}).content.decode()
    assert "Returns manual" in page
    assert "In attachment cassowary.pdf:" in page


def test_search_with_attachments_runs_a_constant_number_of_queries(api_as, team, member, admin_user, attach_to):
    client = api_as(member)
    counts = []
    for n in range(2):
        for i in range(3):
            article = publish(team, member, admin_user, title=f"Numbat {n}-{i}", content="Text.")
            attach_to(article, text_pdf(f"Kiwi guide number {n} {i}."), f"kiwi-{n}-{i}.pdf")
        with CaptureQueriesContext(connection) as ctx:
            assert len(api_search(client, "kiwi")) == 3 * (n + 1)
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1]


def test_snippet_escapes_the_attachment_name_and_text(api_as, member, manual, attach_to):
    upload = attach_to(manual, text_pdf("Koala care sheet."), "koala.pdf")
    KbUpload.objects.filter(pk=upload.pk).update(original_name="<b>koala</b>.pdf")
    snippet = api_search(api_as(member), "koala")[0]["snippet"]
    assert snippet.startswith("In attachment &lt;b&gt;koala&lt;/b&gt;.pdf: ")
    assert "<b>" not in snippet
