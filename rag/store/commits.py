"""All-or-nothing writes: articles with all their chunks, and their removal. Each article
record is written pending first and turned ready only after all its chunks landed, so a reader
never sees an article in part, and a crash leaves only pending records to clean up."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence

import numpy as np

from rag.records import Article, Chunk
from rag.store import chunks
from rag.store.articles import mark_pending, record_meta
from rag.store.base import NO_VECTOR, PENDING, READY, StoreError
from rag.store.systems import Running

#: An article, its chunks and one vector per chunk.
Item = tuple[Article, Sequence[Chunk], np.ndarray]


def add(running: Running, items: Sequence[Item], bump: Callable[[], None]) -> None:
    """Store these articles with all their chunks and ``bump`` the generation; on any
    failure none of them is left behind, and StoreError is raised."""
    ids = [article.id for article, _, _ in items]
    try:
        _write(running, items, ids)
        bump()
    except Exception as exc:
        for article_id in ids:
            discard(running, article_id)
        what = f"article {ids[0]}" if len(ids) == 1 else f"{len(ids)} articles"
        raise StoreError(f"could not store {what}: {exc}") from exc


def _write(running: Running, items: Sequence[Item], ids: list[str]) -> None:
    # Chunks that a crashed earlier try left behind go before the new ones land.
    leftovers = running.articles.get(ids=ids, include=[])["ids"]
    running.articles.upsert(
        ids=ids,
        documents=[article.text for article, _, _ in items],
        embeddings=[NO_VECTOR] * len(items),
        metadatas=[record_meta(a, len(c), PENDING) for a, c, _ in items],
    )
    if leftovers:
        running.chunks.delete(where={"article_id": {"$in": leftovers}})
    chunks.add(running.chunks, items, int(running.client.get_max_batch_size()))
    running.articles.update(ids=ids, metadatas=[record_meta(a, len(c), READY) for a, c, _ in items])


def remove(running: Running, article_id: str, bump: Callable[[], None]) -> bool:
    """Remove an article and its chunks: hidden from readers (and ``bump``) before its
    chunks go. False when there is no such article."""
    if not mark_pending(running.articles, article_id):
        return False
    bump()
    discard(running, article_id)
    return True


def discard(running: Running, article_id: str) -> None:
    """Delete an article's chunks and record, as far as it goes."""
    # What is left stays pending; recover() finishes the job on a later open.
    with contextlib.suppress(Exception):
        running.chunks.delete(where={"article_id": article_id})
        running.articles.delete(ids=[article_id])
