"""The chunks: one row per chunk in the chunk collection, its vector, its text as the document,
and as metadata where it lies in its article plus the fields LlamaIndex reads (``rag.nodes``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import numpy as np

from rag.nodes import chunk_node_fields
from rag.records import Article, Chunk
from rag.store.base import empty_rows, read_all

#: Article ids per ``$in`` filter when reading the chunks of many articles.
IDS_PER_READ = 500


def published_day(published: str) -> int | None:
    """Days since 1970-01-01 for an ISO date, so that Chroma can filter date ranges."""
    try:
        return (dt.date.fromisoformat(published[:10]) - dt.date(1970, 1, 1)).days
    except ValueError:
        return None


def chunk_meta(article: Article, chunk: Chunk) -> dict[str, Any]:
    """The metadata stored with a chunk of ``article``."""
    meta = {
        **chunk_node_fields(article, chunk),
        "article_id": chunk.article_id,
        "chunk": chunk.index,
        "start": chunk.start,
        "end": chunk.end,
        "title": article.title,
        "url": article.url,
        "source": article.source,
        "published": article.published,
        "published_day": published_day(article.published),
    }
    # Chroma metadata takes no None values.
    return {k: v for k, v in meta.items() if v is not None}


def add(
    chunks: Any,
    items: Sequence[tuple[Article, Sequence[Chunk], np.ndarray]],
    batch: int,
) -> None:
    """Add the chunks of these articles with their vectors, ``batch`` rows a write at most."""
    rows = [
        (chunk, vector, chunk_meta(article, chunk))
        for article, article_chunks, vectors in items
        for chunk, vector in zip(article_chunks, vectors, strict=True)
    ]
    step = max(1, batch)
    for lo in range(0, len(rows), step):
        part = rows[lo : lo + step]
        chunks.add(
            ids=[c.id for c, _, _ in part],
            embeddings=np.stack([v for _, v, _ in part]),
            documents=[c.text for c, _, _ in part],
            metadatas=[m for _, _, m in part],
        )


def of_articles(chunks: Any, article_ids: Sequence[str]) -> dict[str, list[Any]]:
    """The chunk rows (ids, documents, metadatas) of these articles."""
    out = empty_rows(["documents", "metadatas"])
    for lo in range(0, len(article_ids), IDS_PER_READ):
        got = read_all(
            chunks,
            where={"article_id": {"$in": list(article_ids[lo : lo + IDS_PER_READ])}},
            include=["documents", "metadatas"],
        )
        for key in out:
            out[key].extend(got[key])
    return out


def vectors(chunks: Any, chunk_ids: list[str]) -> tuple[list[str], np.ndarray] | None:
    """These chunks' ids and vectors, read by id; None when any of them is missing."""
    if not chunk_ids:
        return [], np.zeros((0, 0), dtype=np.float32)
    rows = chunks.get(ids=chunk_ids, include=["embeddings"])
    if len(rows["ids"]) != len(chunk_ids):
        return None
    return list(rows["ids"]), np.asarray(rows["embeddings"], dtype=np.float32)
