"""What every part of the store shares: its errors, the states of an article record, and
whole-collection reads page by page."""

from __future__ import annotations

from typing import Any

MODEL_KEY = "embedding_model"
READY = "ready"
#: An article is "pending" while its chunks are written or removed; readers ignore it.
PENDING = "pending"
#: Rows per Chroma read of a whole collection: one read of 100,000 chunks fails with SQLite's
#: "too many SQL variables".
PAGE = 5_000
#: The vector of a row nothing searches (article and side records): Chroma stores no row
#: without one.
NO_VECTOR = [0.0]


class StoreError(RuntimeError):
    """The library could not be opened, read or written."""


class ModelMismatchError(StoreError):
    """The library was built with another embedding model than the one asked for."""


def read_all(collection: Any, **query: Any) -> dict[str, list[Any]]:
    """Chroma's ``get`` over a whole collection, read page by page."""
    include = list(query.pop("include", []))
    out: dict[str, list[Any]] = {"ids": [], **{key: [] for key in include}}
    offset = 0
    while True:
        got = collection.get(limit=PAGE, offset=offset, include=include, **query)
        for key in out:
            out[key].extend(got[key] if got[key] is not None else [])
        if len(got["ids"]) < PAGE:
            return out
        offset += PAGE


def empty_rows(include: list[str]) -> dict[str, list[Any]]:
    """The rows of a read that found nothing: ids plus each of ``include``, all empty."""
    return {"ids": [], **{key: [] for key in include}}


def name_of(collection: Any) -> str:
    """A collection's name (``list_collections`` gives names or collections, by version)."""
    return collection if isinstance(collection, str) else str(collection.name)
