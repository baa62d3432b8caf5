"""The editor's upload defaults (issue 11): files of an internal article are
private unless the author chooses otherwise, and a CSV keeps its name."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from knowledge_base.forms import AttachmentForm
from knowledge_base.models import KbUpload
from knowledge_base.services.articles import article_create
from knowledge_base.services.uploads import upload_create

pytestmark = pytest.mark.django_db


def selected_context(html: str) -> str:
    start = html.index('name="context"')
    chunk = html[start : html.index("</select>", start)]
    return chunk.split(" selected")[0].rsplit('value="', 1)[1].split('"')[0]


@pytest.mark.parametrize(("is_public", "expected"), [(False, "user-upload"), (True, "kb-article")])
def test_upload_visibility_defaults_to_the_articles(client, team, member, is_public, expected):
    article = article_create(team=team, user=member, title="Stock", content="x", is_public=is_public)
    client.force_login(member)
    html = client.get(reverse("knowledge_base:article-edit", args=[article.pk])).content.decode()
    assert selected_context(html) == expected


def test_the_attachment_form_alone_defaults_to_private():
    assert AttachmentForm().fields["context"].initial == "user-upload"


@pytest.mark.parametrize("name", ["pricelist.csv", "PRICES.CSV"])
def test_a_csv_keeps_its_extension(team, member, name):
    article = article_create(team=team, user=member, title="Prices", content="x")
    data = b"sku,price,stock\nA1,3.50,10\nB2,4.00,3\n"
    upload = upload_create(team=team, user=member, file=SimpleUploadedFile(name, data, "text/plain"), article=article)
    assert upload.content_type == "text/csv"
    assert upload.original_name.lower().endswith(".csv")
    assert upload.key.endswith(".csv")
    assert upload.store == KbUpload.Store.PRIVATE


def test_the_plain_upload_form_keeps_a_csv_as_csv(client, team, member):
    article = article_create(team=team, user=member, title="Prices", content="x")
    client.force_login(member)
    response = client.post(
        reverse("knowledge_base:attachment-upload", args=[article.pk]),
        {"file": SimpleUploadedFile("pricelist.csv", b"a,b\n1,2\n3,4\n"), "context": "user-upload"},
    )
    assert response.status_code == 302
    assert KbUpload.objects.get().original_name == "pricelist.csv"
