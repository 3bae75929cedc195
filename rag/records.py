"""The records that flow from ingest into the store: articles and their chunks."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


def article_id(text: str) -> str:
    """Content hash that identifies an article: the same text always gets the same id."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class Article:
    """One article as a loader produced it. ``text`` is what offsets point into."""

    title: str
    text: str
    #: Where it came from: a file path, ``path#line`` for JSONL, or a URL.
    origin: str
    url: str = ""
    #: ISO date ``YYYY-MM-DD`` or ``""`` when unknown.
    published: str = ""
    #: Publisher or outlet, ``""`` when unknown.
    source: str = ""
    #: Identity across versions: re-ingesting the same key with new text replaces the old one.
    key: str = ""

    @property
    def id(self) -> str:
        return article_id(self.text)

    @property
    def identity(self) -> str:
        """The key that a new version of this article shares with the old one."""
        return self.key or self.url or self.origin


@dataclass(frozen=True)
class Chunk:
    """A passage of an article: ``article.text[start:end] == text``."""

    article_id: str
    index: int
    start: int
    end: int
    text: str

    @property
    def id(self) -> str:
        return f"{self.article_id}:{self.index}"


@dataclass(frozen=True)
class ArticleInfo:
    """What the library knows about a stored article, without its text."""

    id: str
    title: str
    url: str
    published: str
    source: str
    origin: str
    key: str
    chunks: int
    ingested_at: str
