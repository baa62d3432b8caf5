"""Rebuild the search vectors: the content part is now the rendered text
(content_html without tags), not the Markdown source (see
services.articles._search_vector_expression)."""

from django.contrib.postgres.search import SearchVector
from django.db import migrations
from django.db.models import F, Func, TextField, Value


def reindex(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return  # SQLite keeps no vectors
    KbArticle = apps.get_model("knowledge_base", "KbArticle")
    rendered = Func(
        F("content_html"), Value("<[^>]*>"), Value(""), Value("g"), function="regexp_replace", output_field=TextField()
    )
    KbArticle.objects.update(
        search_vector=SearchVector("title", weight="A", config="english")
        + SearchVector("excerpt", weight="B", config="english")
        + SearchVector(rendered, weight="C", config="english")
    )


class Migration(migrations.Migration):
    dependencies = [("knowledge_base", "0002_verbose_names")]

    operations = [migrations.RunPython(reindex, migrations.RunPython.noop)]
