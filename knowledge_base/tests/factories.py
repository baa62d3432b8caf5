import factory
from django.utils import timezone

from deelrx.tenancy.tests.factories import TeamFactory, UserFactory
from knowledge_base.models import KbArticle, KbFeedback, KbRevision
from knowledge_base.rendering import render_markdown


class KbArticleFactory(factory.django.DjangoModelFactory):
    """Rows straight in the table (no revision, no search vector): use the
    services when a test is about what they do."""

    class Meta:
        model = KbArticle

    team = factory.SubFactory(TeamFactory)
    title = factory.Sequence(lambda n: f"Article {n}")
    slug = factory.Sequence(lambda n: f"article-{n}")
    content = "Some **Markdown** content."
    content_html = factory.LazyAttribute(lambda a: render_markdown(a.content))
    excerpt = ""
    status = KbArticle.Status.DRAFT
    author = factory.SubFactory(UserFactory)
    published_at = factory.LazyAttribute(
        lambda a: timezone.now() if a.status in (KbArticle.Status.PUBLISHED, KbArticle.Status.ARCHIVED) else None
    )


class KbRevisionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = KbRevision

    article = factory.SubFactory(KbArticleFactory)
    number = factory.Sequence(lambda n: n + 1)
    title = factory.LazyAttribute(lambda r: r.article.title)
    content = factory.LazyAttribute(lambda r: r.article.content)


class KbFeedbackFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = KbFeedback

    article = factory.SubFactory(KbArticleFactory)
    helpful = True
