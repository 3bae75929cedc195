"""HTML news pages read as a reader sees them: the article's text, headline, date and site.

The page is parsed once and made to read as a browser shows it (``page_tree``): a line break in
the HTML source is a space, so it never splits a sentence. The headline, date and site name are
the page's own declarations (``page_meta``). The text is trafilatura's extraction, in its
precision mode, of the page's <article> where that holds most of the text, so sidebars and
teaser lists stay out, less the lines of boilerplate that survive it (copyright notices,
"Related:" teasers, newsletter and shopping prompts).
"""

from __future__ import annotations

import re
from pathlib import Path

from lxml.html import HtmlElement

from ingest.loaders.base import (
    BINARY_SNIFF,
    LoadError,
    check_size,
    read_file,
    title_from_text,
)
from ingest.loaders.page_meta import read_page_meta
from ingest.loaders.page_tree import (
    collapse_whitespace,
    paragraphs_in_divs,
    scope_to_article,
    unwrap_layout_tables,
)
from rag.records import Article

#: Fewer words than this is a page with no article (a broken page, a login wall).
MIN_WORDS = 3
_WORD = re.compile(r"[^\W\d_]{2,}")

#: Markup outweighs text; a page may be this many times the text limit.
MARKUP_FACTOR = 4

NO_ARTICLE = "no article text found in the HTML (malformed or empty page)"

#: A line is only boilerplate when it is short; a paragraph that mentions a newsletter is not.
BOILERPLATE_CHARS = 250
_BOILERPLATE = re.compile(
    r"^\W*(?:©|\(c\)\s|copyright\b)"
    r"|\ball rights reserved\b"
    r"|^\W*(?:related|read more|read also|also read|see also|more|recommended|watch)\s*:"
    r"|\b(?:subscribe|sign up|signup)\b.{0,80}\bnewsletters?\b"
    r"|\bnewsletters?\b.{0,80}\b(?:subscribe|sign up)\b"
    r"|^\W*(?:add to (?:cart|basket|bag)|buy (?:it )?now|shop now|check price|view deal)\b",
    re.IGNORECASE,
)


def article_from_html(
    data: bytes | str, origin: str, limit: int, *, url: str = "", key: str = ""
) -> Article:
    """The main article of an HTML page."""
    raw = data.encode("utf-8", "replace") if isinstance(data, str) else data
    if not raw.strip():
        raise LoadError(origin, "empty file")
    if b"\x00" in raw[:BINARY_SNIFF]:
        raise LoadError(origin, "binary file, not HTML")
    tree = reader_tree(raw, origin)
    meta = read_page_meta(tree, url)
    text = main_text(tree, raw, origin, url)
    if len(_WORD.findall(text)) < MIN_WORDS:
        raise LoadError(origin, NO_ARTICLE)
    check_size(origin, text, limit)
    return Article(
        title=meta.title or title_from_text(text),
        text=text,
        origin=origin,
        url=url or meta.url,
        published=meta.published,
        source=meta.site,
        key=key or url,
    )


def reader_tree(raw: bytes, origin: str) -> HtmlElement:
    """The parsed page, its whitespace and layout tables as a reader sees them."""
    from trafilatura import load_html

    try:
        tree = load_html(raw)
    except Exception as exc:
        raise LoadError(origin, f"cannot parse HTML: {exc}") from None
    if tree is None:
        raise LoadError(origin, NO_ARTICLE)
    collapse_whitespace(tree)
    unwrap_layout_tables(tree)
    paragraphs_in_divs(tree)
    return tree


def main_text(tree: HtmlElement, raw: bytes, origin: str, url: str) -> str:
    """The article's paragraphs, one a line, without the page's chrome and boilerplate."""
    scope_to_article(tree)
    text = _extract(tree, origin, url, precision=True)
    if len(_WORD.findall(text)) < MIN_WORDS:
        # Precision mode finds nothing on a few layouts; the balanced mode reads them, from a
        # fresh tree because the first pass changed this one.
        text = _extract(reader_tree(raw, origin), origin, url, precision=False)
    return drop_boilerplate(text)


def _extract(tree: HtmlElement, origin: str, url: str, *, precision: bool) -> str:
    import trafilatura

    try:
        doc = trafilatura.bare_extraction(
            tree, url=url or None, include_comments=False, favor_precision=precision
        )
    except Exception as exc:
        raise LoadError(origin, f"cannot parse HTML: {exc}") from None
    return (getattr(doc, "text", None) or "").strip() if doc is not None else ""


def drop_boilerplate(text: str) -> str:
    """The text less its short lines of site boilerplate, single-spaced within each line."""
    lines = (" ".join(line.split()) for line in text.split("\n"))
    return "\n".join(line for line in lines if line and not is_boilerplate(line))


def is_boilerplate(line: str) -> bool:
    """Whether a line is the site's, not the article's: copyright, a teaser, a sales prompt."""
    return len(line) <= BOILERPLATE_CHARS and _BOILERPLATE.search(line) is not None


def load_html_file(path: Path, limit: int) -> Article:
    data = read_file(path, limit * MARKUP_FACTOR)
    return article_from_html(data, str(path), limit, key=str(path.resolve()))
