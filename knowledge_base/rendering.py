"""Markdown → sanitised HTML for articles, and link extraction for the link checker.

Authors may type raw HTML inside Markdown (Markdown passes it through); nh3
then keeps only an explicit allow-list of tags and attributes and only
http/https/mailto (or relative) URLs, so no script, event handler, style,
iframe or javascript:/data:/vbscript: URL can reach a reader's browser.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import markdown
import nh3

ALLOWED_TAGS: frozenset[str] = frozenset(
    {
        "a",
        "abbr",
        "b",
        "blockquote",
        "br",
        "code",
        "dd",
        "del",
        "div",
        "dl",
        "dt",
        "em",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "hr",
        "i",
        "img",
        "kbd",
        "li",
        "mark",
        "ol",
        "p",
        "pre",
        "s",
        "span",
        "strong",
        "sub",
        "sup",
        "table",
        "tbody",
        "td",
        "tfoot",
        "th",
        "thead",
        "tr",
        "ul",
    }
)

# No "rel" on <a>: nh3 sets it itself (link_rel) and refuses an allow-listed rel.
ALLOWED_ATTRIBUTES: dict[str, set[str]] = {
    "a": {"href", "title"},
    "abbr": {"title"},
    "img": {"src", "alt", "title", "width", "height"},
    "code": {"class"},
    "ol": {"start"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan", "scope"},
}
# Table alignment from the Markdown tables extension (use_align_attribute=True).
ALLOWED_ATTRIBUTE_VALUES: dict[str, dict[str, set[str]]] = {
    "td": {"align": {"left", "right", "center"}},
    "th": {"align": {"left", "right", "center"}},
}
URL_SCHEMES: frozenset[str] = frozenset({"http", "https", "mailto"})
LINK_REL = "noopener noreferrer nofollow"

_CODE_CLASS = re.compile(r"^language-[A-Za-z0-9_+#.-]{1,40}$")
_NUMBER = re.compile(r"^\d{1,5}$")


def _attribute_filter(tag: str, attribute: str, value: str) -> str | None:
    """Narrow the allow-listed attributes further: only fenced-code language
    classes and plain numbers for sizes/spans."""
    if attribute == "class":
        return value if tag == "code" and _CODE_CLASS.match(value) else None
    if attribute in {"width", "height", "colspan", "rowspan", "start"}:
        return value if _NUMBER.match(value) else None
    return value


def _markdown_to_html(text: str) -> str:
    return markdown.markdown(
        text or "",
        extensions=["fenced_code", "tables", "sane_lists"],
        extension_configs={"tables": {"use_align_attribute": True}},
        output_format="html",
    )


def sanitize_html(html: str) -> str:
    return nh3.clean(
        html,
        tags=set(ALLOWED_TAGS),
        attributes=ALLOWED_ATTRIBUTES,
        tag_attribute_values=ALLOWED_ATTRIBUTE_VALUES,
        attribute_filter=_attribute_filter,
        url_schemes=set(URL_SCHEMES),
        link_rel=LINK_REL,
        strip_comments=True,
        # The text inside these is dropped entirely, not kept as visible text.
        clean_content_tags={"script", "style", "iframe", "object", "embed", "noscript", "template", "svg", "math"},
    )


def render_markdown(text: str) -> str:
    """Markdown → HTML that is safe to mark_safe() and show to anyone."""
    return sanitize_html(_markdown_to_html(text)).strip()


class _LinkCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        wanted = {"a": "href", "img": "src"}.get(tag)
        for name, value in attrs:
            if name == wanted and value:
                self.urls.append(value.strip())


def _rendered_urls(markdown_or_html: str) -> list[str]:
    collector = _LinkCollector()
    collector.feed(render_markdown(markdown_or_html))
    collector.close()
    return collector.urls


def extract_links(markdown_or_html: str) -> list[str]:
    """Absolute http(s) links and image sources of an article, in order, once each.

    Accepts Markdown or HTML (HTML passes through Markdown unchanged), and reads
    the sanitised rendering, so it lists exactly what readers can click.
    """
    seen: dict[str, None] = {}
    for url in _rendered_urls(markdown_or_html):
        if url.lower().startswith(("http://", "https://")) and len(url) <= 2000:
            seen.setdefault(url, None)
    return list(seen)


def extract_site_links(markdown_or_html: str) -> list[str]:
    """Root-relative links of an article ("/help/acme/returns/"), in order, once
    each: links into this site, which the link check resolves in the database."""
    seen: dict[str, None] = {}
    for url in _rendered_urls(markdown_or_html):
        if url.startswith("/") and not url.startswith("//") and len(url) <= 2000:
            seen.setdefault(url, None)
    return list(seen)
