"""PDF rendering with WeasyPrint, behind a URL fetcher that reads nothing but our own static files.

WeasyPrint's default fetcher follows ``file:`` URLs (an ``<a rel="attachment" href="file:///…">``
embeds a local file in the PDF) and reaches the network (``<img src="http://127.0.0.1/…">``, CSS
``url()`` and ``@import``). Documents are rendered with ``base_url`` set to a host that cannot exist
(``.invalid``) and :class:`SafeFetcher` serves only:

- ``data:`` URLs (images we embed ourselves, e.g. the coordinator's logo);
- ``https://maillage.invalid/static/<path>``, mapped to a file under ``app/static/`` (``..`` and
  symlinks out of that folder refused).

Everything else is refused and recorded in ``refused`` (tests read it); redirects are never followed.
User text reaches templates autoescaped, so it cannot add tags; the fetcher is the second wall.
"""

from __future__ import annotations

import hashlib
import logging
import mimetypes
import threading
from pathlib import Path
from urllib.parse import unquote, urlsplit

from weasyprint import CSS, HTML
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import URLFetcher, URLFetcherResponse

log = logging.getLogger(__name__)

STATIC_DIR = (Path(__file__).resolve().parent / "static").resolve()
BASE_URL = "https://maillage.invalid/"
STATIC_PREFIX = BASE_URL + "static/"


class FetchRefused(ValueError):
    """A resource the renderer may not read."""


class SafeFetcher(URLFetcher):
    def __init__(self, static_dir: Path = STATIC_DIR):
        super().__init__(timeout=2, allowed_protocols={"data", "https"}, allow_redirects=False)
        self.static_dir = static_dir.resolve()
        self.refused: list[str] = []
        self.served: list[str] = []

    def fetch(self, url, headers=None):
        if url.startswith("data:"):
            return super().fetch(url, headers)
        if url.startswith(STATIC_PREFIX):
            parts = urlsplit(url)
            relative = unquote(parts.path)[len("/static/") :]
            path = (self.static_dir / relative).resolve()
            if path.is_file() and path.is_relative_to(self.static_dir):
                self.served.append(url)
                mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
                return URLFetcherResponse(url, path.read_bytes(), {"Content-Type": mime})
        self.refused.append(url)
        log.warning("PDF renderer refused to fetch %r", url[:200])
        raise FetchRefused(f"resource refused: {url[:200]}")


_fonts_lock = threading.Lock()
_font_config: FontConfiguration | None = None


def _fonts() -> FontConfiguration:
    """One font configuration per process (building one is costly)."""
    global _font_config
    with _fonts_lock:
        if _font_config is None:
            _font_config = FontConfiguration()
        return _font_config


def render_pdf(
    html: str,
    *,
    fetcher: SafeFetcher | None = None,
    pdf_variant: str | None = None,
    attachments=None,
    metadata_hook=None,
) -> bytes:
    """Render an HTML string (a rendered template) to PDF bytes.

    ``attachments`` are ``weasyprint.Attachment`` objects we build ourselves (e.g. Factur-X XML);
    ``metadata_hook(document)`` may adjust document metadata before writing.
    """
    fetcher = fetcher or SafeFetcher()
    document = HTML(string=html, base_url=BASE_URL, url_fetcher=fetcher).render(
        font_config=_fonts(), stylesheets=[CSS(string="@page { size: A4; }", url_fetcher=fetcher)]
    )
    if metadata_hook is not None:
        metadata_hook(document)
    return document.write_pdf(pdf_variant=pdf_variant, attachments=attachments or None)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
