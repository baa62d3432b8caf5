"""pg_trgm for the help center's "did you mean" (similar titles and excerpts).

pg_trgm is a trusted extension (PostgreSQL 13+): the database owner may create
it without superuser rights. CreateExtension does nothing on SQLite, and the
indexes are plain ones there (PortableGinIndex)."""

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations

import knowledge_base.models


class Migration(migrations.Migration):
    dependencies = [("knowledge_base", "0003_search_rendered_text")]

    operations = [
        TrigramExtension(),
        migrations.AddIndex(
            model_name="kbarticle",
            index=knowledge_base.models.PortableGinIndex(
                fields=["title"], name="kb_article_title_trgm", opclasses=["gin_trgm_ops"]
            ),
        ),
        migrations.AddIndex(
            model_name="kbarticle",
            index=knowledge_base.models.PortableGinIndex(
                fields=["excerpt"], name="kb_article_excerpt_trgm", opclasses=["gin_trgm_ops"]
            ),
        ),
    ]
