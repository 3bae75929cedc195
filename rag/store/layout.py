"""The library's collections: their names, finding or creating them with the embedding model
checked, and upgrading the chunks of a library an earlier version made."""

from __future__ import annotations

import logging
from typing import Any

from rag.nodes import LAYOUT, LAYOUT_KEY, is_ours, stored_node_fields
from rag.store.base import MODEL_KEY, PAGE, ModelMismatchError, StoreError, name_of, read_all

log = logging.getLogger(__name__)


def articles_name(name: str) -> str:
    """The collection of article records beside the chunk collection ``name``."""
    return f"{name}-articles"


def side_name(name: str, kind: str) -> str:
    """The collection of the side records of ``kind`` (feed subscriptions) beside ``name``."""
    return f"{name}-{kind}"


def names(client: Any) -> set[str]:
    """The names of every collection the client sees."""
    return {name_of(c) for c in client.list_collections()}


def created_elsewhere(client: Any, name: str) -> bool:
    """Whether another process created the library since this one found it empty."""
    return articles_name(name) in names(client)


def collections(client: Any, name: str) -> tuple[Any, Any]:
    """The chunk and article collections of an existing library (raises if there is none)."""
    chunks = client.get_collection(name, embedding_function=None)
    return chunks, client.get_collection(articles_name(name), embedding_function=None)


def attach(client: Any, name: str, model: str | None, create: bool) -> tuple[Any, Any, str | None]:
    """The chunk and article collections, created when missing with ``create`` (else None),
    and the library's embedding model; ModelMismatchError if it is not ``model``."""
    existing = names(client)
    if name not in existing and not create:
        return None, None, model
    try:
        chunks = _chunks_collection(client, name, model, existing)
        articles = client.get_or_create_collection(articles_name(name), embedding_function=None)
    except Exception as exc:
        raise StoreError(f"cannot open collection {name!r}: {exc}") from exc
    recorded = (chunks.metadata or {}).get(MODEL_KEY)
    if model is not None and recorded and recorded != model:
        raise ModelMismatchError(
            f"this library was built with the embedding model {recorded!r}, not "
            f"{model!r}; set RAG_EMBED_MODEL={recorded} to use it, or pick "
            "another RAG_HOME or RAG_COLLECTION for the new model"
        )
    return chunks, articles, model or recorded


def _chunks_collection(client: Any, name: str, model: str | None, existing: set[str]) -> Any:
    if name in existing:
        return client.get_collection(name, embedding_function=None)
    try:
        return client.create_collection(
            name,
            metadata={MODEL_KEY: model, LAYOUT_KEY: LAYOUT},
            configuration={"hnsw": {"space": "cosine"}},
            embedding_function=None,
        )
    except Exception:
        # Another process (on a Chroma server) created it a moment ago: use that one.
        if name in names(client):
            return client.get_collection(name, embedding_function=None)
        raise


def upgrade(chunks: Any, where: str) -> None:
    """Give the chunks of a library made by an earlier version the fields LlamaIndex reads
    (``rag.nodes``), in place: their vectors and ids stay as they are."""
    if chunks is None or (chunks.metadata or {}).get(LAYOUT_KEY) == LAYOUT:
        return
    total = int(chunks.count())
    if total:
        log.warning("upgrading this library's %d chunks for LlamaIndex (once)", total)
    try:
        _add_node_fields(chunks)
        chunks.modify(metadata={**(chunks.metadata or {}), LAYOUT_KEY: LAYOUT})
    except Exception as exc:
        raise StoreError(
            f"cannot upgrade the library at {where} for LlamaIndex: {exc}; "
            "opening it again (rag ask, rag ingest, rag serve) tries again"
        ) from exc


def _add_node_fields(chunks: Any) -> None:
    got = read_all(chunks, include=["documents", "metadatas"])
    rows = [
        (cid, {**meta, **stored_node_fields(cid, text, meta)})
        for cid, text, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True)
        if is_ours(meta) and "_node_content" not in meta
    ]
    for lo in range(0, len(rows), PAGE):
        part = rows[lo : lo + PAGE]
        chunks.update(ids=[c for c, _ in part], metadatas=[m for _, m in part])
