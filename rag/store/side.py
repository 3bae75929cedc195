"""Records kept in the library beside its articles (feed subscriptions): one collection per
kind, a record's key as its id and its text as its document. Chroma stores no row without a
vector, so each gets a dummy one (``NO_VECTOR``)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from rag.store.base import NO_VECTOR, StoreError, read_all
from rag.store.layout import names, side_name


@contextlib.contextmanager
def failures(kind: str, doing: str) -> Iterator[None]:
    """Any failure inside, to ``doing`` (read or write) the records of ``kind``: StoreError."""
    try:
        yield
    except Exception as exc:
        raise StoreError(f"cannot {doing} the library's {kind}: {exc}") from exc


def read(client: Any, name: str, kind: str) -> dict[str, str]:
    """Every record of ``kind`` beside the library ``name`` (key -> text)."""
    collection = side_name(name, kind)
    # Reading creates nothing: a collection is made by the first write, in its turn.
    if collection not in names(client):
        return {}
    got = read_all(
        client.get_collection(collection, embedding_function=None), include=["documents"]
    )
    return dict(zip(got["ids"], got["documents"], strict=True))


def put(client: Any, name: str, kind: str, key: str, text: str) -> None:
    """Write (or overwrite) one record of ``kind``."""
    _collection(client, name, kind).upsert(ids=[key], documents=[text], embeddings=[NO_VECTOR])


def drop(client: Any, name: str, kind: str, key: str) -> None:
    """Remove one record of ``kind``."""
    _collection(client, name, kind).delete(ids=[key])


def _collection(client: Any, name: str, kind: str) -> Any:
    return client.get_or_create_collection(side_name(name, kind), embedding_function=None)
