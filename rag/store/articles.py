"""The article records: one per article in the articles collection, its full text as the
document, its fields and state (pending or ready) as metadata. Readers see ready ones only."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterable, Sequence
from typing import Any

from rag.records import Article, ArticleInfo
from rag.store.base import PENDING, READY, read_all


def record_meta(article: Article, chunks: int, status: str) -> dict[str, Any]:
    """The metadata of an article's record, with ``chunks`` chunks, in ``status``."""
    return {
        "title": article.title,
        "url": article.url,
        "published": article.published,
        "source": article.source,
        "origin": article.origin,
        "key": article.identity,
        "chunks": chunks,
        "status": status,
        "ingested_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "written_at": time.time(),
    }


#: The fields a record's metadata keeps of both the article and its description.
DESCRIBED = ("title", "url", "published", "source", "origin", "key")


def _described(m: dict[str, Any]) -> dict[str, str]:
    return {name: m.get(name, "") for name in DESCRIBED}


def to_info(article_id: str, m: dict[str, Any]) -> ArticleInfo:
    """What a record's metadata says about its article."""
    return ArticleInfo(
        id=article_id,
        **_described(m),
        chunks=int(m.get("chunks", 0)),
        ingested_at=m.get("ingested_at", ""),
    )


def to_article(text: str, m: dict[str, Any]) -> Article:
    """The article a record holds: its text and the fields in its metadata."""
    return Article(text=text, **_described(m))


def ready_record(articles: Any, article_id: str, include: list[str]) -> dict[str, Any] | None:
    """The record with this id (as Chroma's ``get`` gives it), if its article is complete."""
    got = articles.get(ids=[article_id], include=["metadatas", *include])
    if not got["ids"] or got["metadatas"][0].get("status") != READY:
        return None
    return dict(got)


def documents(articles: Any) -> list[ArticleInfo]:
    """Every complete article, newest first."""
    got = read_all(articles, where={"status": READY}, include=["metadatas"])
    infos = [to_info(i, m) for i, m in zip(got["ids"], got["metadatas"], strict=True)]
    return sorted(infos, key=lambda a: (a.published, a.title), reverse=True)


def find(docs: Sequence[ArticleInfo], ref: str) -> list[ArticleInfo]:
    """Those of ``docs`` whose id (or an unambiguous id prefix), URL, origin or key is ``ref``."""
    exact = [a for a in docs if ref in (a.id, a.url, a.origin, a.key)]
    if exact:
        return exact
    prefixed = [a for a in docs if len(ref) >= 4 and a.id.startswith(ref)]
    return prefixed if len(prefixed) == 1 else []


def by_identity(articles: Any, identity: str) -> list[ArticleInfo]:
    """Complete articles that are versions of the one with this identity."""
    got = articles.get(
        where={"$and": [{"key": identity}, {"status": READY}]}, include=["metadatas"]
    )
    return [to_info(i, m) for i, m in zip(got["ids"], got["metadatas"], strict=True)]


def has_ready(articles: Any) -> bool:
    """Whether any article is complete (one row read, however large the library)."""
    return bool(articles.get(where={"status": READY}, limit=1, include=[])["ids"])


def all_ready_ids(articles: Any) -> set[str]:
    """The ids of every complete article."""
    return set(read_all(articles, where={"status": READY}, include=[])["ids"])


def ready_ids(articles: Any, ids: Iterable[str]) -> set[str]:
    """Those of ``ids`` whose article is complete."""
    wanted = list(dict.fromkeys(ids))
    if not wanted:
        return set()
    got = articles.get(ids=wanted, include=["metadatas"])
    return {
        i for i, m in zip(got["ids"], got["metadatas"], strict=True) if m.get("status") == READY
    }


def ready_chunk_ids(articles: Any, article_ids: Sequence[str]) -> list[str]:
    """The ids of the chunks the records of these articles name (complete articles only)."""
    got = articles.get(ids=list(dict.fromkeys(article_ids)), include=["metadatas"])
    return [
        f"{article_id}:{n}"
        for article_id, m in zip(got["ids"], got["metadatas"], strict=True)
        if m.get("status") == READY
        for n in range(int(m.get("chunks", 0)))
    ]


def mark_pending(articles: Any, article_id: str) -> bool:
    """Hide an article from readers before its removal; False if there is no such record."""
    got = articles.get(ids=[article_id], include=["metadatas"])
    if not got["ids"]:
        return False
    meta = dict(got["metadatas"][0], status=PENDING, written_at=time.time())
    articles.update(ids=[article_id], metadatas=[meta])
    return True


def stale_pending(articles: Any, stale_after: float) -> list[str]:
    """Articles left pending for ``stale_after`` seconds or more (a writer crashed)."""
    got = read_all(articles, where={"status": PENDING}, include=["metadatas"])
    now = time.time()
    return [
        i
        for i, m in zip(got["ids"], got["metadatas"], strict=True)
        if now - float(m.get("written_at", 0.0)) >= stale_after
    ]
