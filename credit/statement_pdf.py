"""The statement as PDF: the printable page's own HTML through WeasyPrint, when it is
installed (requirements.txt) with its system libraries (pango, which Chromium also
needs). Static files are read from disk, never fetched over the network."""

from __future__ import annotations

import logging
import mimetypes
from functools import cache

from django.conf import settings
from django.contrib.staticfiles import finders

logger = logging.getLogger(__name__)


@cache
def pdf_available() -> bool:
    try:
        import weasyprint  # noqa: F401
    except Exception:  # missing package or system library (OSError from cffi)
        logger.warning("WeasyPrint is unavailable: statements are HTML and CSV only")
        return False
    return True


def _fetcher():
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    class StaticOnly(URLFetcher):
        """Reads the page's static files from disk; fetches nothing else."""

        def __call__(self, url):
            prefix = "file:///__static__/"
            if url.startswith(prefix):
                path = finders.find(url[len(prefix) :].split("?")[0])
                if path:
                    with open(path, "rb") as handle:
                        body = handle.read()
                    content_type = mimetypes.guess_type(path)[0] or "text/css"
                    return URLFetcherResponse(url, body, headers={"Content-Type": content_type})
            raise ValueError(f"Not fetched for a PDF: {url}")

    return StaticOnly()


def html_to_pdf(html: str) -> bytes:
    from weasyprint import HTML

    html = html.replace(f'"{settings.STATIC_URL}', '"file:///__static__/')
    return HTML(string=html, url_fetcher=_fetcher(), base_url="file:///__static__/").write_pdf()
