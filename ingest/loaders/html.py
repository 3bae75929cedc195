"""HTML news pages: main text, title, date and site name by trafilatura."""

from __future__ import annotations

import re
from pathlib import Path

from ingest.loaders.base import (
    BINARY_SNIFF,
    LoadError,
    check_size,
    parse_date,
    read_file,
    title_from_text,
)
from rag.records import Article

#: Fewer words than this is a page with no article (a broken page, a login wall).
MIN_WORDS = 3
_WORD = re.compile(r"[^\W\d_]{2,}")

#: Markup outweighs text; a page may be this many times the text limit.
MARKUP_FACTOR = 4


def article_from_html(
    data: bytes | str, origin: str, limit: int, *, url: str = "", key: str = ""
) -> Article:
    """The main article of an HTML page."""
    import trafilatura

    raw = data.encode("utf-8", "replace") if isinstance(data, str) else data
    if not raw.strip():
        raise LoadError(origin, "empty file")
    if b"\x00" in raw[:BINARY_SNIFF]:
        raise LoadError(origin, "binary file, not HTML")
    try:
        doc = trafilatura.bare_extraction(
            raw, url=url or None, with_metadata=True, include_comments=False, favor_recall=True
        )
    except Exception as exc:
        raise LoadError(origin, f"cannot parse HTML: {exc}") from None
    text = (getattr(doc, "text", None) or "").strip() if doc is not None else ""
    if len(_WORD.findall(text)) < MIN_WORDS:
        raise LoadError(origin, "no article text found in the HTML (malformed or empty page)")
    check_size(origin, text, limit)
    return Article(
        title=(getattr(doc, "title", None) or "").strip() or title_from_text(text),
        text=text,
        origin=origin,
        url=url or (getattr(doc, "url", None) or ""),
        published=parse_date(getattr(doc, "date", None)),
        source=(getattr(doc, "sitename", None) or getattr(doc, "hostname", None) or "").strip(),
        key=key or url,
    )


def load_html_file(path: Path, limit: int) -> Article:
    data = read_file(path, limit * MARKUP_FACTOR)
    return article_from_html(data, str(path), limit, key=str(path.resolve()))
