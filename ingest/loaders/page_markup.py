"""What a page declares about itself in markup: meta tags, JSON-LD and its own address."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from lxml.html import HtmlElement

from ingest.loaders.page_tree import clean

#: JSON-LD types whose headline and dates are the article's own.
_ARTICLE_TYPE = re.compile(r"(Article|BlogPosting|Report|LiveBlogPosting)$")
#: JSON-LD nests objects (``@graph``, ``mainEntity``); deeper than this is not the page's.
LD_DEPTH = 6


@dataclass(frozen=True)
class Declarations:
    """A page's meta tags by lower-cased name, its JSON-LD articles, and its address."""

    metas: dict[str, list[str]] = field(default_factory=dict)
    articles: list[dict[str, object]] = field(default_factory=list)
    url: str = ""

    def meta(self, *keys: str) -> list[str]:
        """Every value of these meta tags, in the order of the keys."""
        return [v for k in keys for v in self.metas.get(k, [])]

    def ld(self, key: str) -> list[str]:
        """Every JSON-LD article's text under ``key`` (a name where it is an object)."""
        return [v for v in (ld_text(node, key) for node in self.articles) if v]


def read_declarations(tree: HtmlElement, url: str = "") -> Declarations:
    """The page's declarations; its address is ``url``, else its og:url or canonical link."""
    metas = meta_values(tree)
    articles = [n for n in ld_nodes(tree) if any(_ARTICLE_TYPE.search(t) for t in _types(n))]
    page_url = url or next(iter(metas.get("og:url", [])), "") or _canonical(tree)
    return Declarations(metas, articles, page_url)


def meta_values(tree: HtmlElement) -> dict[str, list[str]]:
    """Every <meta> content by its lower-cased property, name or itemprop, in page order."""
    values: dict[str, list[str]] = {}
    for meta in tree.iter("meta"):
        content = meta.get("content") or meta.get("value") or meta.get("datetime")
        for attr in ("property", "name", "itemprop"):
            key = (meta.get(attr) or "").strip().lower()
            if key and content and content.strip():
                values.setdefault(key, []).append(clean(content))
    return values


def _canonical(tree: HtmlElement) -> str:
    link = next((e for e in tree.iter("link") if (e.get("rel") or "").lower() == "canonical"), None)
    return (link.get("href") or "").strip() if link is not None else ""


def ld_nodes(tree: HtmlElement) -> Iterator[dict[str, object]]:
    """Every JSON-LD object of the page, nested ones included."""
    for script in tree.iter("script"):
        if (script.get("type") or "").strip().lower() != "application/ld+json":
            continue
        try:
            data = json.loads(script.text or "", strict=False)
        except (ValueError, RecursionError):
            continue  # broken (or hostile, deeply nested) JSON-LD; the other sources remain
        yield from _walk(data, depth=0)


def _walk(data: object, depth: int) -> Iterator[dict[str, object]]:
    if depth > LD_DEPTH:
        return
    if isinstance(data, list):
        for item in data:
            yield from _walk(item, depth + 1)
    elif isinstance(data, dict):
        yield data
        for value in data.values():
            if isinstance(value, (dict, list)):
                yield from _walk(value, depth + 1)


def _types(node: dict[str, object]) -> list[str]:
    kind = node.get("@type")
    return [str(k) for k in kind] if isinstance(kind, list) else [str(kind or "")]


def ld_text(node: dict[str, object], key: str) -> str:
    """A JSON-LD value as text: a string, an object's name, or a list's first string."""
    value = node.get(key)
    if isinstance(value, dict):
        value = value.get("name")
    if isinstance(value, list):
        value = value[0] if value and isinstance(value[0], str) else None
    return clean(value) if isinstance(value, str) else ""
