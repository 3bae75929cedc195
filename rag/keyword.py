"""BM25 keyword search over the chunks of the library, kept in step with the store: it
rebuilds whenever the store's generation changes, so it never returns a removed article and
sees a new one at once."""

from __future__ import annotations

import math
import threading
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np

from rag.store import Store
from rag.terms import terms


@dataclass(frozen=True)
class KeywordHit:
    chunk_id: str
    article_id: str
    score: float


def _tokenize(texts: list[str]) -> list[list[str]]:
    return [terms(t) for t in texts]


class KeywordIndex:
    """BM25 (bm25s) over every chunk of every complete article."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._generation: str | None = None
        self._bm25: Any = None
        self.chunk_ids: list[str] = []
        self.article_ids: list[str] = []
        self._metas: list[dict[str, Any]] = []
        self._df: Counter[str] = Counter()
        self._columns: dict[tuple[str, bool], tuple[np.ndarray, dict[Any, int]]] = {}

    def _refresh(self) -> None:
        generation = self.store.generation()
        if generation == self._generation and self._generation is not None:
            return
        import bm25s

        chunks = self.store.chunks
        ready = {a.id for a in self.store.documents()} if chunks is not None else set()
        ids: list[str] = []
        texts: list[str] = []
        metas: list[dict[str, Any]] = []
        if chunks is not None and ready:
            got = self.store.all_chunks(["documents", "metadatas"])
            for cid, doc, meta in zip(got["ids"], got["documents"], got["metadatas"], strict=True):
                if meta.get("article_id") in ready:
                    ids.append(cid)
                    texts.append(doc)
                    metas.append(meta)
        bm25 = None
        df: Counter[str] = Counter()
        if texts:
            tokens = _tokenize(texts)
            for words in tokens:
                df.update(set(words))
            bm25 = bm25s.BM25()
            bm25.index(tokens, show_progress=False)
        self._bm25, self.chunk_ids, self._metas, self._df = bm25, ids, metas, df
        self._columns = {}
        self.article_ids = [m["article_id"] for m in metas]
        self._generation = generation

    def idf(self, words: list[str]) -> dict[str, float]:
        """BM25's inverse document frequency of each word (from ``terms``) over the chunks."""
        with self._lock:
            self._refresh()
            n = len(self.chunk_ids)
            return {
                w: math.log(1 + (n - self._df[w] + 0.5) / (self._df[w] + 0.5)) for w in set(words)
            }

    def _column(self, field: str, numeric: bool) -> tuple[np.ndarray, dict[Any, int]]:
        """One metadata field of every chunk as an array: numbers (NaN where missing), or
        codes with the value -> code table, so that a filter is a vector operation."""
        key = (field, numeric)
        if key not in self._columns:
            values = [m.get(field) for m in self._metas]
            codes: dict[Any, int] = {}
            if numeric:
                column = np.array(
                    [np.nan if v is None else float(v) for v in values], dtype=np.float64
                )
            else:
                column = np.fromiter(
                    (codes.setdefault(v, len(codes)) for v in values), np.int64, len(values)
                )
            self._columns[key] = (column, codes)
        return self._columns[key]

    def _mask(self, where: dict[str, Any]) -> np.ndarray:
        """Which chunks pass ``where`` (the subset of Chroma's language the retriever builds).

        Vectorised: a Python test per chunk cost 145 ms a search at 100,000 chunks."""
        if "$and" in where:
            return np.logical_and.reduce([self._mask(w) for w in where["$and"]])
        ((field, cond),) = where.items()
        ((op, arg),) = cond.items() if isinstance(cond, dict) else (("$eq", cond),)
        if op in ("$gte", "$lte"):
            numbers, _ = self._column(field, numeric=True)
            with np.errstate(invalid="ignore"):
                return numbers >= arg if op == "$gte" else numbers <= arg
        column, codes = self._column(field, numeric=False)
        if op == "$in":
            return np.isin(column, [codes[v] for v in arg if v in codes])
        if op == "$eq":
            return column == codes.get(arg, -1)
        raise ValueError(f"unsupported filter operator {op}")

    def unknown(self, words: list[str]) -> set[str]:
        """The words (from ``terms``) that no chunk of the library contains."""
        with self._lock:
            self._refresh()
            return {w for w in words if self._df[w] == 0}

    def search(self, query: str, k: int, where: dict[str, Any] | None = None) -> list[KeywordHit]:
        """The ``k`` best chunks for ``query`` among those that pass the filter ``where``."""
        with self._lock:
            self._refresh()
            if self._bm25 is None or k < 1:
                return []
            allowed = self._mask(where).astype(np.float32) if where else None
            tokens = _tokenize([query])
            if not tokens[0]:
                return []
            n = min(k, len(self.chunk_ids))
            docs, scores = self._bm25.retrieve(
                tokens, k=n, show_progress=False, weight_mask=allowed, n_threads=0
            )
            return [
                KeywordHit(self.chunk_ids[int(d)], self.article_ids[int(d)], float(s))
                for d, s in zip(docs[0], scores[0], strict=True)
                if s > 0
            ]
