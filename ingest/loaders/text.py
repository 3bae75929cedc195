"""Plain text and Markdown articles.

Two conventions are understood: the sample corpus's first line ``date YYYY-MM-DD <dateline>``,
and Markdown front matter (``---`` fenced ``title:``, ``date:``, ``source:``, ``url:``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from ingest.loaders.base import LoadError, check_size, parse_date, read_text, title_from_text
from rag.records import Article

_DATE_LINE = re.compile(r"\A\s*date\s+(\d{4}-\d{2}-\d{2})\s+")
_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.DOTALL)


def _front_matter(source: str, text: str) -> tuple[dict[str, Any], str]:
    match = _FRONT_MATTER.match(text)
    if not match:
        return {}, text
    try:
        meta = yaml.safe_load(match.group(1)) or {}
    except yaml.YAMLError as exc:
        raise LoadError(source, f"front matter is not valid YAML: {exc}") from None
    if not isinstance(meta, dict):
        return {}, text
    return meta, text[match.end() :]


def article_from_text(text: str, origin: str, *, markdown: bool, key: str = "") -> Article:
    """An article from the text of a ``.txt`` or ``.md`` document."""
    meta: dict[str, Any] = {}
    if markdown:
        meta, text = _front_matter(origin, text)
    published = parse_date(meta.get("date") or meta.get("published") or meta.get("published_at"))
    dated = _DATE_LINE.match(text)
    if dated:
        published = published or parse_date(dated.group(1))
        text = text[dated.end() :]
    text = text.strip()
    if not text:
        raise LoadError(origin, "no text")
    url = str(meta.get("url") or meta.get("link") or "")
    return Article(
        title=str(meta.get("title") or title_from_text(text)),
        text=text,
        origin=origin,
        url=url,
        published=published,
        source=str(meta.get("source") or meta.get("publisher") or ""),
        key=url or key,
    )


def load_text_file(path: Path, limit: int) -> Article:
    """A ``.txt`` or ``.md`` file as one article."""
    text = read_text(path, limit)
    article = article_from_text(
        text,
        str(path),
        markdown=path.suffix.lower() in (".md", ".markdown"),
        key=str(path.resolve()),
    )
    check_size(str(path), article.text, limit)
    return article
